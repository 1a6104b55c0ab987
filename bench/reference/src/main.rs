//! Minimal `GET /api/v1/auth/me`: verify an HS256 bearer token, look the user up by the
//! token's `sub`, answer the user as JSON. No sessions, middleware, metrics or logs.
//!
//! Environment: `DATABASE_URL` (flowrex's database, after flowrex created it), `JWT_SECRET_KEY`,
//! `PORT`, `POOL` (connections, default 10), `LOOKUP=one` to use sea-orm's `one()` (which
//! binds `LIMIT ?`; see flowrex's `unique_row`) instead of `all()`.

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, get, web};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, EntityTrait};
use serde::{Deserialize, Serialize};

mod users {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "users")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub email: String,
        pub hashed_password: String,
        pub full_name: Option<String>,
        pub is_active: bool,
        pub is_verified: bool,
        pub is_superuser: bool,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
}

#[derive(Serialize)]
struct Me {
    id: i32,
    email: String,
    full_name: Option<String>,
    is_active: bool,
    is_verified: bool,
    created_at: chrono::DateTime<chrono::Utc>,
}

struct State {
    db: DatabaseConnection,
    key: DecodingKey,
    validation: Validation,
    use_one: bool,
}

#[get("/api/v1/auth/me")]
async fn me(request: HttpRequest, state: web::Data<State>) -> HttpResponse {
    let token = request
        .headers()
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    let Some(token) = token else {
        return HttpResponse::Unauthorized().finish();
    };
    let Ok(data) = decode::<Claims>(token, &state.key, &state.validation) else {
        return HttpResponse::Unauthorized().finish();
    };
    let Ok(id) = data.claims.sub.parse::<i32>() else {
        return HttpResponse::Unauthorized().finish();
    };
    let select = users::Entity::find_by_id(id);
    let row = if state.use_one {
        select.one(&state.db).await
    } else {
        select
            .all(&state.db)
            .await
            .map(|rows| rows.into_iter().next())
    };
    match row {
        Ok(Some(user)) => HttpResponse::Ok().json(Me {
            id: user.id,
            email: user.email,
            full_name: user.full_name,
            is_active: user.is_active,
            is_verified: user.is_verified,
            created_at: user.created_at,
        }),
        Ok(None) => HttpResponse::Unauthorized().finish(),
        Err(_) => HttpResponse::ServiceUnavailable().finish(),
    }
}

fn var(name: &str) -> std::io::Result<String> {
    std::env::var(name).map_err(|_| std::io::Error::other(format!("{name} is not set")))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = var("PORT")?.parse().map_err(std::io::Error::other)?;
    let pool = std::env::var("POOL")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(10);
    let mut options = ConnectOptions::new(var("DATABASE_URL")?);
    options.max_connections(pool).sqlx_logging(false);
    let db = Database::connect(options)
        .await
        .map_err(std::io::Error::other)?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let state = web::Data::new(State {
        db,
        key: DecodingKey::from_secret(var("JWT_SECRET_KEY")?.as_bytes()),
        validation,
        use_one: std::env::var("LOOKUP").is_ok_and(|v| v == "one"),
    });
    HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .service(me)
            .route("/health", web::get().to(HttpResponse::Ok))
    })
    .bind(("127.0.0.1", port))?
    .run()
    .await
}
