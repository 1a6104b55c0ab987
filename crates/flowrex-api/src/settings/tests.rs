use std::collections::HashMap;

use secrecy::ExposeSecret;

use super::mail::MailMode;
use super::*;

fn load(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
    SettingsSources::only(vars.iter().copied()).load()
}

fn listed<'a>(settings: &'a Settings, name: &str) -> Option<&'a str> {
    settings
        .listing()
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn defaults_are_the_specs() {
    let settings = load(&[]).unwrap();
    assert_eq!(settings.env, AppEnv::Development);
    assert_eq!(listed(&settings, "JWT_ALGORITHM"), Some("HS256"));
    assert_eq!(settings.auth.policy, flowrex_domain::AuthPolicy::default());
    assert_eq!(
        settings.database.pool.url.expose(),
        "sqlite://flowrex_dev.db"
    );
    assert!(settings.database.pool.log_statements && settings.database.auto_migrate);
    assert!(settings.redis.is_none());
    assert!(!settings.http.csrf, "CSRF applies in production only");
    assert_eq!(settings.http.address(), "127.0.0.1:8000");
    assert_eq!(settings.auth.bcrypt_cost.get(), 12);
    assert_eq!(settings.limits.per_minute, Some(200));
    assert_eq!(settings.http.cors_origins, ["http://localhost:3000"]);
}

#[test]
fn development_generates_missing_secrets() {
    let settings = load(&[]).unwrap();
    assert_eq!(
        settings.generated_secrets,
        ["APP_SECRET_KEY", "JWT_SECRET_KEY"]
    );
    let app = settings.app_secret_key.expose_secret();
    assert_eq!(app.len(), 64);
    assert!(app.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(
        listed(&settings, "JWT_SECRET_KEY"),
        Some("(generated for this run)")
    );
}

#[test]
fn production_without_a_secret_fails_naming_it() {
    let error = load(&[("APP_ENV", "production"), ("APP_SECRET_KEY", "x")])
        .map(|_| ())
        .map_err(|e| e.to_string());
    assert_eq!(
        error,
        Err(
            "JWT_SECRET_KEY must be set when APP_ENV is not development (APP_ENV=production)"
                .to_owned()
        )
    );
    let prod = load(&[
        ("app_env", "prod"),
        ("jwt_secret_key", "j"),
        ("app_secret_key", "a"),
    ])
    .unwrap();
    assert_eq!(prod.env, AppEnv::Production);
    assert!(prod.http.csrf && prod.http.hsts);
}

#[test]
fn an_unknown_environment_is_refused_rather_than_run_as_development() {
    for typo in ["prodution", "Produciton", "live", "prd"] {
        let error = load(&[
            ("APP_ENV", typo),
            ("JWT_SECRET_KEY", "j"),
            ("APP_SECRET_KEY", "a"),
        ])
        .map(|_| ())
        .map_err(|e| e.to_string());
        assert_matches!(&error, Err(m) if m.starts_with("APP_ENV is invalid"), "{typo}: {error:?}");
    }
    let staging = load(&[
        ("APP_ENV", "staging"),
        ("JWT_SECRET_KEY", "j"),
        ("APP_SECRET_KEY", "a"),
    ])
    .unwrap();
    assert!(staging.env.is_production_like() && staging.http.csrf);
    let test = load(&[
        ("APP_ENV", "TEST"),
        ("JWT_SECRET_KEY", "j"),
        ("APP_SECRET_KEY", "a"),
    ])
    .unwrap();
    assert!(!test.env.is_production_like());
}

#[test]
fn outside_development_passkey_origins_must_be_secure_contexts() {
    let with = |env: &str, origins: &str| {
        load(&[
            ("APP_ENV", env),
            ("JWT_SECRET_KEY", "j"),
            ("APP_SECRET_KEY", "a"),
            ("WEBAUTHN_RP_ID", "example.com"),
            ("WEBAUTHN_ORIGINS", origins),
        ])
        .map(|_| ())
        .map_err(|e| e.to_string())
    };
    let refused = with("production", "https://example.com, http://app.example.com");
    assert_matches!(&refused, Err(m) if m.starts_with("WEBAUTHN_ORIGINS is invalid") && m.contains("http://app.example.com"), "{refused:?}");
    for insecure in [
        "http://example.com",
        "HTTP://app.example.com",
        "http:/app.example.com",
        "http://localhost:1@app.example.com",
    ] {
        assert_matches!(with("staging", insecure), Err(_), "{insecure}");
    }
    assert_matches!(with("production", "HTTP://LOCALHOST:3000"), Ok(()));
    assert_matches!(
        with("production", "https://example.com, https://app.example.com"),
        Ok(())
    );
    assert_matches!(with("production", "http://localhost:3000"), Ok(()));
    assert_matches!(with("development", "http://app.example.com"), Ok(()));
}

#[test]
fn names_are_case_insensitive_and_values_are_parsed() {
    let settings = load(&[
        ("port", "9001"),
        ("Debug", "false"),
        ("CORS_ORIGINS", "http://a.test, http://b.test"),
        ("DATABASE_URL", "sqlite+aiosqlite:///./x.db"),
    ])
    .unwrap();
    assert_eq!(settings.http.port, 9001);
    assert!(!settings.database.pool.log_statements);
    assert_eq!(
        settings.http.cors_origins,
        ["http://a.test", "http://b.test"]
    );
    assert_eq!(settings.database.pool.url.expose(), "sqlite://./x.db");
}

#[test]
fn bad_values_name_their_variable() {
    for (vars, variable) in [
        (vec![("PORT", "eighty")], "PORT is invalid"),
        (vec![("BCRYPT_COST", "40")], "BCRYPT_COST is invalid"),
        (vec![("BCRYPT_COST", "3")], "BCRYPT_COST is invalid"),
        (
            vec![("DATABASE_URL", "oracle://db")],
            "DATABASE_URL is invalid",
        ),
        (vec![("JWT_ALGORITHM", "RS256")], "JWT_ALGORITHM is invalid"),
        (
            vec![
                ("JWT_ALGORITHM", "EdDSA"),
                ("JWT_PRIVATE_KEY_FILE", "/nonexistent.pem"),
            ],
            "JWT_PRIVATE_KEY_FILE is invalid",
        ),
        (
            vec![("ACCESS_TOKEN_EXPIRE_MINUTES", "0")],
            "ACCESS_TOKEN_EXPIRE_MINUTES is invalid",
        ),
        (vec![("CORS_ORIGINS", "*")], "CORS_ORIGINS is invalid"),
        (
            vec![("REDIS_URL", "localhost:6379")],
            "REDIS_URL is invalid",
        ),
        (vec![("JWT_AUDIENCE", " ")], "JWT_AUDIENCE is invalid"),
        (
            vec![("SESSION_CLEANUP_BATCH", "0")],
            "SESSION_CLEANUP_BATCH is invalid",
        ),
        (
            vec![("DATABASE_MIN_CONNECTIONS", "20")],
            "DATABASE_MIN_CONNECTIONS is invalid",
        ),
        (vec![("DEBUG", "maybe")], "DEBUG is invalid"),
        (vec![("SMTP_URL", "http://mail:25")], "SMTP_URL is invalid"),
        (
            vec![("SMTP_URL", "smtp://u:secret@mail:port")],
            "SMTP_URL is invalid",
        ),
        (vec![("MAIL_FROM", "nobody")], "MAIL_FROM is invalid"),
        (
            vec![("RESET_PASSWORD_URL", "http://localhost:3000/reset")],
            "RESET_PASSWORD_URL is invalid",
        ),
        (
            vec![("VERIFY_EMAIL_URL", "localhost:3000/v?token={token}")],
            "VERIFY_EMAIL_URL is invalid",
        ),
        (
            vec![("VERIFY_EMAIL_TOKEN_EXPIRE_HOURS", "0")],
            "VERIFY_EMAIL_TOKEN_EXPIRE_HOURS is invalid",
        ),
        (
            vec![("RESET_PASSWORD_TOKEN_EXPIRE_MINUTES", "9999999999999")],
            "RESET_PASSWORD_TOKEN_EXPIRE_MINUTES is invalid",
        ),
        (
            vec![("MAIL_TEMPLATES_DIR", "/nonexistent/templates")],
            "MAIL_TEMPLATES_DIR is invalid",
        ),
    ] {
        let message = load(&vars).map(|_| ()).map_err(|e| e.to_string());
        assert_matches!(&message, Err(m) if m.starts_with(variable), "{vars:?}: {message:?}");
    }
}

#[test]
fn mail_is_logged_in_development_off_elsewhere_and_smtp_when_configured() {
    let mode = |vars: &[(&str, &str)]| load(vars).map(|s| s.mail.mode).map_err(|e| e.to_string());
    assert_matches!(mode(&[]), Ok(MailMode::Log));
    let test = [
        ("APP_ENV", "test"),
        ("JWT_SECRET_KEY", "j"),
        ("APP_SECRET_KEY", "a"),
    ];
    assert_matches!(mode(&test), Ok(MailMode::Disabled));
    let smtp = [("SMTP_URL", "smtps://u:p@mail.example.com:465")];
    assert_matches!(mode(&smtp), Ok(MailMode::Smtp(url)) if url.expose_secret().starts_with("smtps://"));
    let message = load(&[("SMTP_URL", "smtp://u:secret@mail:port")])
        .map(|_| ())
        .map_err(|e| e.to_string());
    assert_matches!(&message, Err(m) if !m.contains("secret"), "{message:?}");
}

#[test]
fn the_listing_names_every_setting_and_never_shows_a_secret() {
    let settings = load(&[
        ("JWT_SECRET_KEY", "jwt-very-secret"),
        ("APP_SECRET_KEY", "app-very-secret"),
        ("DATABASE_URL", "postgresql+asyncpg://app:dbpass@db/flowrex"),
        ("REDIS_URL", "redis://:redispass@cache:6379/0"),
    ])
    .unwrap();
    let text = format!("{:?} {settings:?}", settings.listing());
    for secret in ["jwt-very-secret", "app-very-secret", "dbpass", "redispass"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    assert_eq!(
        listed(&settings, "DATABASE_URL"),
        Some("postgres://app:***@db/flowrex"),
        "the URL in force, normalised"
    );
    assert_eq!(
        listed(&settings, "REDIS_URL"),
        Some("redis://:***@cache:6379/0")
    );
    assert_eq!(listed(&settings, "JWT_SECRET_KEY"), Some("(set, redacted)"));
    // Every variable .env.example documents is listed, and the reverse.
    let example = include_str!("../../../../.env.example");
    let documented: Vec<&str> = example
        .lines()
        .filter_map(|line| line.trim_start_matches("# ").split_once('='))
        .map(|(name, _)| name.trim())
        .filter(|name| !name.is_empty() && name.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        .collect();
    for (name, _) in settings.listing() {
        assert!(
            documented.contains(&name.as_str()),
            "{name} is not in .env.example"
        );
    }
    // Read from the process environment only, before any setting.
    let environment_only = ["CONFIG_DIR", "RUST_LOG"];
    for name in documented
        .into_iter()
        .filter(|n| !environment_only.contains(n))
    {
        assert!(
            listed(&settings, name).is_some(),
            "{name} is in .env.example but not a setting"
        );
    }
}

#[test]
fn layers_apply_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    std::fs::write(
        dir.join("default.toml"),
        "port = 1111\nbcrypt_cost = 5\nrate_limit_per_minute = 7\n",
    )
    .unwrap();
    std::fs::write(dir.join("test.toml"), "port = 2222\nbcrypt_cost = 6\n").unwrap();
    std::fs::write(
        dir.join(".env"),
        "PORT=3333\nAPP_ENV=test\nJWT_SECRET_KEY=j\nAPP_SECRET_KEY=a\n",
    )
    .unwrap();
    let sources = SettingsSources {
        env: HashMap::from([("PORT".to_owned(), "4444".to_owned())]),
        dotenv: Some(dir.join(".env")),
        config_dir: Some(dir.to_path_buf()),
    };
    let settings = sources.load().unwrap();
    assert_eq!(settings.env, AppEnv::Test);
    assert_eq!(settings.http.port, 4444, "environment beats .env");
    assert_eq!(
        settings.auth.bcrypt_cost.get(),
        6,
        "<APP_ENV>.toml beats default.toml"
    );
    assert_eq!(
        settings.limits.per_minute,
        Some(7),
        "default.toml beats the built-in defaults"
    );
    assert_eq!(settings.app_secret_key.expose_secret(), "a", ".env is read");
}

#[test]
fn an_unknown_key_in_a_settings_file_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    std::fs::write(dir.join("default.toml"), "port = 1111\n").unwrap();
    std::fs::write(
        dir.join("test.toml"),
        "bcrypt_cost = 6\nbcrypt_rounds = 5\n",
    )
    .unwrap();
    let sources = |app_env: &str| SettingsSources {
        env: HashMap::from([
            ("APP_ENV".to_owned(), app_env.to_owned()),
            ("JWT_SECRET_KEY".to_owned(), "j".to_owned()),
            ("APP_SECRET_KEY".to_owned(), "a".to_owned()),
        ]),
        dotenv: None,
        config_dir: Some(dir.to_path_buf()),
    };
    let error = sources("test").load().err().unwrap();
    assert!(
        matches!(&error, SettingsError::UnknownKey { key, file }
            if key == "bcrypt_rounds" && file.ends_with("test.toml")),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains("unknown setting `bcrypt_rounds`")
    );
    // Another environment does not read that file; a table is no setting either.
    assert_eq!(sources("staging").load().unwrap().http.port, 1111);
    std::fs::write(dir.join("default.toml"), "[http]\nport = 1111\n").unwrap();
    assert!(matches!(
        sources("staging").load(),
        Err(SettingsError::UnknownKey { key, .. }) if key == "http"
    ));
}

#[test]
fn the_shipped_settings_files_hold_settings_only() {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
    for file in ["default", "development", "test", "staging", "production"] {
        let path = config.join(format!("{file}.toml"));
        assert!(path.is_file(), "{}", path.display());
        known_keys_only(&path).unwrap();
    }
}

#[test]
fn outside_providers_are_read_per_id_with_presets_and_their_secret_redacted() {
    let settings = load(&[
        ("OAUTH_PROVIDERS", "google, corp-sso,gh"),
        ("OAUTH_GOOGLE_CLIENT_ID", "g-client"),
        ("OAUTH_CORP_SSO_ISSUER", "https://sso.example.com/realm"),
        ("OAUTH_CORP_SSO_CLIENT_ID", "corp"),
        ("OAUTH_CORP_SSO_CLIENT_SECRET", "corp-very-secret"),
        ("OAUTH_CORP_SSO_LINK_BY_VERIFIED_EMAIL", "true"),
        ("OAUTH_CORP_SSO_CREATE_ACCOUNTS", "false"),
        ("OAUTH_GH_KIND", "github"),
        ("OAUTH_GH_CLIENT_ID", "gh-client"),
        ("OAUTH_GH_API_URL", "http://127.0.0.1:9/api/"),
        (
            "OAUTH_RETURN_URLS",
            "http://localhost:3000/cb, https://app.example.com/cb",
        ),
    ])
    .unwrap();
    let oauth = &settings.oauth;
    let ids: Vec<&str> = oauth.providers.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["google", "corp-sso", "gh"]);
    let google = &oauth.providers[0];
    assert_eq!(
        google.issuer.as_deref(),
        Some("https://accounts.google.com")
    );
    assert_eq!(google.name, "Google");
    assert_eq!(google.scopes, ["openid", "email", "profile"]);
    assert!(google.rules.create_accounts && !google.rules.link_by_verified_email);
    let corp = &oauth.providers[1];
    assert_eq!(corp.name, "corp-sso");
    assert!(!corp.rules.create_accounts && corp.rules.link_by_verified_email);
    let gh = &oauth.providers[2];
    assert_eq!(gh.kind, flowrex_domain::ProviderKind::Github);
    assert_eq!(gh.api_url, "http://127.0.0.1:9/api");
    assert_eq!(gh.token_url, "https://github.com/login/oauth/access_token");
    assert_eq!(oauth.return_urls.len(), 2);
    let text = format!("{:?} {settings:?}", settings.listing());
    assert!(!text.contains("corp-very-secret"), "{text}");
    assert_eq!(
        listed(&settings, "OAUTH_CORP_SSO_CLIENT_SECRET"),
        Some("(redacted)")
    );
    assert_eq!(
        listed(&settings, "OAUTH_GOOGLE_CLIENT_ID"),
        Some("g-client")
    );
}

#[test]
fn an_unusable_provider_setting_is_refused_naming_its_variable() {
    let base = [("OAUTH_RETURN_URLS", "http://localhost:3000/cb")];
    let cases: [(&[(&str, &str)], &str); 7] = [
        (&[("OAUTH_PROVIDERS", "Google")], "OAUTH_PROVIDERS"),
        (
            &[
                ("OAUTH_PROVIDERS", "a,a"),
                ("OAUTH_A_ISSUER", "https://a.example"),
                ("OAUTH_A_CLIENT_ID", "x"),
            ],
            "OAUTH_PROVIDERS",
        ),
        (&[("OAUTH_PROVIDERS", "google")], "OAUTH_GOOGLE_CLIENT_ID"),
        (
            &[("OAUTH_PROVIDERS", "corp"), ("OAUTH_CORP_CLIENT_ID", "x")],
            "OAUTH_CORP_ISSUER",
        ),
        (
            &[
                ("OAUTH_PROVIDERS", "corp"),
                ("OAUTH_CORP_KIND", "saml"),
                ("OAUTH_CORP_CLIENT_ID", "x"),
            ],
            "OAUTH_CORP_KIND",
        ),
        (
            &[
                ("OAUTH_PROVIDERS", "google"),
                ("OAUTH_GOOGLE_CLIENT_ID", "x"),
                ("OAUTH_GOOGLE_CREATE_ACCOUNTS", "maybe"),
            ],
            "OAUTH_GOOGLE_CREATE_ACCOUNTS",
        ),
        (
            &[
                ("OAUTH_PROVIDERS", "google"),
                ("OAUTH_GOOGLE_CLIENT_ID", "x"),
                ("OAUTH_GOOGLE_ISSUER", "not a url"),
            ],
            "OAUTH_GOOGLE_ISSUER",
        ),
    ];
    for (vars, variable) in cases {
        let vars: Vec<(&str, &str)> = base.iter().chain(vars.iter()).copied().collect();
        match load(&vars) {
            Err(SettingsError::Invalid {
                variable: named, ..
            }) => {
                assert_eq!(named, variable, "{vars:?}");
            }
            other => panic!("{vars:?}: {other:?}"),
        }
    }
    // Providers need somewhere to return to.
    match load(&[
        ("OAUTH_PROVIDERS", "google"),
        ("OAUTH_GOOGLE_CLIENT_ID", "x"),
    ]) {
        Err(SettingsError::Invalid { variable, .. }) => assert_eq!(variable, "OAUTH_RETURN_URLS"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_settings_file_may_configure_providers_by_their_keys() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("default.toml"),
        "oauth_providers = \"corp-sso\"\noauth_return_urls = \"http://localhost:3000/cb\"\n\
         oauth_corp_sso_issuer = \"https://sso.example.com\"\noauth_corp_sso_client_id = \"c\"\n",
    )
    .unwrap();
    let sources = SettingsSources {
        config_dir: Some(dir.path().to_path_buf()),
        ..SettingsSources::default()
    };
    let settings = sources.load().unwrap();
    assert_eq!(settings.oauth.providers[0].client_id, "c");
    std::fs::write(
        dir.path().join("default.toml"),
        "oauth_corp_sso_client_idd = \"c\"\n",
    )
    .unwrap();
    assert!(matches!(
        sources.load(),
        Err(SettingsError::UnknownKey { .. })
    ));
}
