//! Every branch of every use case, against the ports' mocks and fakes.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use mockall::predicate::eq;

use super::*;
use crate::ports::{
    HashError, MockPasswordHasher, MockTokenIssuer, MockTokenVerifier, MockUserRepository,
    TokenError,
};
use crate::test_support::{CountingFailureCounter, FixedClock, InMemoryUserRepository};
use crate::{PasswordHash, UserId, UserParts, VerifiedToken};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0)
        .single()
        .unwrap_or_default()
}

fn email(raw: &str) -> EmailAddress {
    EmailAddress::parse(raw).unwrap_or_else(|e| panic!("test email {raw}: {e}"))
}

fn password(raw: &str) -> NewPassword {
    NewPassword::parse(raw.to_owned()).unwrap_or_else(|e| panic!("test password {raw}: {e}"))
}

fn stored_user(id: i64, active: bool) -> User {
    UserParts {
        id: UserId::new(id),
        email: email("known@example.com"),
        password_hash: PasswordHash::new("hash-of-Test1234".to_owned()),
        full_name: None,
        is_active: active,
        is_verified: false,
        is_superuser: false,
        created_at: now(),
        updated_at: now(),
    }
    .into()
}

/// A service over the given ports; unset ports are strict mocks that fail the test if used.
struct Ports {
    users: Arc<dyn UserRepository>,
    hasher: MockPasswordHasher,
    issuer: MockTokenIssuer,
    verifier: MockTokenVerifier,
}

impl Ports {
    fn with_users(users: Arc<dyn UserRepository>) -> Self {
        let mut hasher = MockPasswordHasher::new();
        hasher.expect_needs_rehash().return_const(false);
        Self {
            users,
            hasher,
            issuer: MockTokenIssuer::new(),
            verifier: MockTokenVerifier::new(),
        }
    }

    fn issuing_tokens(mut self) -> Self {
        self.issuer
            .expect_issue()
            .returning(|id, kind, exp| Ok(format!("{}:{id}:{}", kind.as_str(), exp.timestamp())));
        self
    }

    fn verifying(mut self, result: Result<VerifiedToken, TokenError>) -> Self {
        self.verifier
            .expect_verify()
            .times(1)
            .returning(move |_, _, _| result.clone());
        self
    }

    fn service(self) -> AuthService {
        AuthService::new(
            self.users,
            Arc::new(self.hasher),
            Arc::new(self.issuer),
            Arc::new(self.verifier),
            Arc::new(FixedClock(now())),
            AuthPolicy::default(),
        )
    }
}

fn repository_with(user: User) -> Arc<dyn UserRepository> {
    let mut users = MockUserRepository::new();
    let by_email = user.clone();
    users
        .expect_find_by_email()
        .returning(move |_| Ok(Some(by_email.clone())));
    users
        .expect_find_by_id()
        .returning(move |_| Ok(Some(user.clone())));
    Arc::new(users)
}

fn unreachable_repository() -> Arc<dyn UserRepository> {
    let mut users = MockUserRepository::new();
    users.expect_find_by_email().returning(|_| {
        Err(RepositoryError::Unavailable(anyhow::anyhow!(
            "connection refused"
        )))
    });
    users.expect_find_by_id().returning(|_| {
        Err(RepositoryError::Unavailable(anyhow::anyhow!(
            "connection refused"
        )))
    });
    users.expect_insert().returning(|_| {
        Err(RepositoryError::Unavailable(anyhow::anyhow!(
            "connection refused"
        )))
    });
    Arc::new(users)
}

fn token_of(id: i64, kind: TokenKind) -> VerifiedToken {
    VerifiedToken {
        subject: UserId::new(id),
        kind,
        expires_at: now(),
    }
}

fn registration(raw_email: &str) -> Registration {
    Registration {
        email: email(raw_email),
        password: password("Test1234"),
        full_name: None,
    }
}

fn credentials(raw_email: &str, raw_password: &str) -> Credentials {
    Credentials {
        email: email(raw_email),
        password: PasswordAttempt::new(raw_password.to_owned()),
        client_ip: Some(IpAddr::from([203, 0, 113, 9])),
    }
}

// ---- register ----------------------------------------------------------------------------

#[tokio::test]
async fn register_stores_the_hash_and_returns_the_new_user() {
    let users = Arc::new(InMemoryUserRepository::default());
    let mut ports = Ports::with_users(users.clone());
    ports
        .hasher
        .expect_hash()
        .times(1)
        .returning(|p| Ok(PasswordHash::new(format!("hash-of-{p}"))));
    let service = ports.service();

    let user = service
        .register(Registration {
            full_name: Some(FullName::parse("Ada".to_owned()).unwrap_or_else(|_| panic!())),
            ..registration("new@example.com")
        })
        .await
        .unwrap_or_else(|e| panic!("registration should succeed: {e}"));

    assert_eq!(user.email().as_str(), "new@example.com");
    assert_eq!(user.full_name(), Some("Ada"));
    assert_eq!(user.password_hash().as_str(), "hash-of-Test1234");
    assert!(user.is_active() && !user.is_verified() && !user.is_superuser());
    assert_eq!(user.created_at(), now());
    let stored = users.find_by_email(&email("new@example.com")).await;
    assert!(
        matches!(stored, Ok(Some(u)) if u == user),
        "the user should be stored"
    );
}

#[tokio::test]
async fn register_with_a_taken_email_fails_without_hashing() {
    let service = Ports::with_users(repository_with(stored_user(1, true))).service();
    let result = service.register(registration("known@example.com")).await;
    assert!(
        matches!(result, Err(RegisterError::EmailTaken)),
        "{result:?}"
    );
}

#[tokio::test]
async fn register_losing_a_race_for_the_email_reports_it_taken() {
    let mut users = MockUserRepository::new();
    users.expect_find_by_email().returning(|_| Ok(None));
    users
        .expect_insert()
        .times(1)
        .returning(|_| Err(RepositoryError::EmailTaken));
    let mut ports = Ports::with_users(Arc::new(users));
    ports
        .hasher
        .expect_hash()
        .returning(|_| Ok(PasswordHash::new("h".to_owned())));
    let result = ports
        .service()
        .register(registration("race@example.com"))
        .await;
    assert!(
        matches!(result, Err(RegisterError::EmailTaken)),
        "{result:?}"
    );
}

#[tokio::test]
async fn register_reports_an_unreachable_store_as_unavailable() {
    let service = Ports::with_users(unreachable_repository()).service();
    let result = service.register(registration("a@example.com")).await;
    assert!(
        matches!(result, Err(RegisterError::Unavailable(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn register_reports_a_failed_insert_as_unexpected() {
    let mut users = MockUserRepository::new();
    users.expect_find_by_email().returning(|_| Ok(None));
    users
        .expect_insert()
        .returning(|_| Err(RepositoryError::Unexpected(anyhow::anyhow!("disk full"))));
    let mut ports = Ports::with_users(Arc::new(users));
    ports
        .hasher
        .expect_hash()
        .returning(|_| Ok(PasswordHash::new("h".to_owned())));
    let result = ports
        .service()
        .register(registration("a@example.com"))
        .await;
    assert!(
        matches!(result, Err(RegisterError::Unexpected(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn register_reports_a_hashing_failure_as_unexpected() {
    let mut ports = Ports::with_users(Arc::new(InMemoryUserRepository::default()));
    ports
        .hasher
        .expect_hash()
        .returning(|_| Err(HashError(anyhow::anyhow!("worker died"))));
    let result = ports
        .service()
        .register(registration("a@example.com"))
        .await;
    assert!(
        matches!(result, Err(RegisterError::Unexpected(_))),
        "{result:?}"
    );
}

// ---- login -------------------------------------------------------------------------------

#[tokio::test]
async fn login_with_the_right_password_issues_an_access_and_a_refresh_token() {
    let mut ports = Ports::with_users(repository_with(stored_user(7, true))).issuing_tokens();
    ports
        .hasher
        .expect_verify()
        .withf(|attempt, hash| {
            attempt.expose() == "Test1234"
                && hash.map(PasswordHash::as_str) == Some("hash-of-Test1234")
        })
        .times(1)
        .returning(|_, _| Ok(true));

    let pair = ports
        .service()
        .login(credentials("known@example.com", "Test1234"))
        .await
        .unwrap_or_else(|e| panic!("login should succeed: {e}"));

    let access_exp = (now() + Duration::minutes(30)).timestamp();
    let refresh_exp = (now() + Duration::days(7)).timestamp();
    assert_eq!(pair.access_token, format!("access:7:{access_exp}"));
    assert_eq!(pair.refresh_token, format!("refresh:7:{refresh_exp}"));
    assert_eq!(pair.expires_in, 1800);
}

#[tokio::test]
async fn login_expires_in_follows_the_configured_access_lifetime() {
    let mut ports = Ports::with_users(repository_with(stored_user(7, true))).issuing_tokens();
    ports.hasher.expect_verify().returning(|_, _| Ok(true));
    let service = AuthService {
        policy: AuthPolicy {
            access_ttl: Duration::minutes(5),
            refresh_ttl: Duration::days(1),
        },
        ..ports.service()
    };
    let pair = service
        .login(credentials("known@example.com", "Test1234"))
        .await;
    assert!(matches!(pair, Ok(p) if p.expires_in == 300));
}

#[tokio::test]
async fn login_with_a_wrong_password_is_refused() {
    let mut ports = Ports::with_users(repository_with(stored_user(7, true)));
    ports
        .hasher
        .expect_verify()
        .times(1)
        .returning(|_, _| Ok(false));
    let result = ports
        .service()
        .login(credentials("known@example.com", "Wrong123"))
        .await;
    assert!(
        matches!(result, Err(LoginError::InvalidCredentials)),
        "{result:?}"
    );
}

#[tokio::test]
async fn login_with_unknown_email_still_runs_the_hasher_once() {
    let mut ports = Ports::with_users(Arc::new(InMemoryUserRepository::default()));
    ports
        .hasher
        .expect_verify()
        .withf(|_, hash| hash.is_none())
        .times(1)
        .returning(|_, _| Ok(false));
    let result = ports
        .service()
        .login(credentials("nobody@example.com", "Test1234"))
        .await;
    assert!(
        matches!(result, Err(LoginError::InvalidCredentials)),
        "{result:?}"
    );
}

#[tokio::test]
async fn login_of_an_inactive_user_is_refused_even_with_the_right_password() {
    let mut ports = Ports::with_users(repository_with(stored_user(7, false)));
    ports
        .hasher
        .expect_verify()
        .times(1)
        .returning(|_, _| Ok(true));
    let result = ports
        .service()
        .login(credentials("known@example.com", "Test1234"))
        .await;
    assert!(
        matches!(result, Err(LoginError::InvalidCredentials)),
        "{result:?}"
    );
}

#[tokio::test]
async fn login_reports_an_unreachable_store_as_unavailable() {
    let service = Ports::with_users(unreachable_repository()).service();
    let result = service
        .login(credentials("known@example.com", "Test1234"))
        .await;
    assert!(
        matches!(result, Err(LoginError::Unavailable(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn login_reports_a_broken_hash_as_unexpected() {
    let mut ports = Ports::with_users(repository_with(stored_user(7, true)));
    ports
        .hasher
        .expect_verify()
        .returning(|_, _| Err(HashError(anyhow::anyhow!("invalid hash"))));
    let result = ports
        .service()
        .login(credentials("known@example.com", "Test1234"))
        .await;
    assert!(
        matches!(result, Err(LoginError::Unexpected(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn login_reports_a_signing_failure_as_unexpected() {
    let mut ports = Ports::with_users(repository_with(stored_user(7, true)));
    ports.hasher.expect_verify().returning(|_, _| Ok(true));
    ports
        .issuer
        .expect_issue()
        .returning(|_, _, _| Err(IssueError(anyhow::anyhow!("bad key"))));
    let result = ports
        .service()
        .login(credentials("known@example.com", "Test1234"))
        .await;
    assert!(
        matches!(result, Err(LoginError::Unexpected(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_password_bcrypt_cannot_check_in_full_never_matches_but_costs_a_verify() {
    let mut ports = Ports::with_users(repository_with(stored_user(7, true)));
    // 72 matching bytes and one more: bcrypt would truncate and say yes.
    ports
        .hasher
        .expect_verify()
        .withf(|_, hash| hash.is_none())
        .times(1)
        .returning(|_, _| Ok(false));
    let long = format!("Test1234{}", "x".repeat(65));
    let result = ports
        .service()
        .login(credentials("known@example.com", &long))
        .await;
    assert!(
        matches!(result, Err(LoginError::InvalidCredentials)),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_successful_login_upgrades_a_hash_of_another_cost() {
    let users = Arc::new(InMemoryUserRepository::default());
    users.push(stored_user(7, true).to_parts());
    let mut ports = Ports::with_users(users.clone()).issuing_tokens();
    ports.hasher.checkpoint();
    ports.hasher.expect_needs_rehash().return_const(true);
    ports.hasher.expect_verify().returning(|_, _| Ok(true));
    ports
        .hasher
        .expect_hash()
        .withf(|secret| secret == "Test1234")
        .times(1)
        .returning(|_| Ok(PasswordHash::new("$2b$12$upgraded".to_owned())));
    let result = ports
        .service()
        .login(credentials("known@example.com", "Test1234"))
        .await;
    assert!(result.is_ok(), "{result:?}");
    let stored = users.find_by_id(UserId::new(7)).await.ok().flatten();
    assert_eq!(
        stored.map(|u| u.password_hash().as_str().to_owned()),
        Some("$2b$12$upgraded".to_owned())
    );
}

#[tokio::test]
async fn a_failed_hash_upgrade_does_not_fail_the_login() {
    let mut ports = Ports::with_users(repository_with(stored_user(7, true))).issuing_tokens();
    ports.hasher.checkpoint();
    ports.hasher.expect_needs_rehash().return_const(true);
    ports.hasher.expect_verify().returning(|_, _| Ok(true));
    ports
        .hasher
        .expect_hash()
        .returning(|_| Err(HashError(anyhow::anyhow!("worker died"))));
    let result = ports
        .service()
        .login(credentials("known@example.com", "Test1234"))
        .await;
    assert!(result.is_ok(), "{result:?}");
}

fn throttled_service(
    ports: Ports,
    per_ip: &Arc<CountingFailureCounter>,
    per_account: &Arc<CountingFailureCounter>,
) -> AuthService {
    ports.service().with_login_throttle(LoginThrottle {
        per_ip: Some(per_ip.clone()),
        per_account: Some(per_account.clone()),
    })
}

#[tokio::test]
async fn after_five_failures_an_account_is_throttled_without_running_the_hasher() {
    let mut ports = Ports::with_users(repository_with(stored_user(7, true)));
    // Five verifications, no more: the other 25 attempts never reach bcrypt.
    ports
        .hasher
        .expect_verify()
        .times(5)
        .returning(|_, _| Ok(false));
    let (per_ip, per_account) = (
        Arc::new(CountingFailureCounter::new(50)),
        Arc::new(CountingFailureCounter::new(5)),
    );
    let service = throttled_service(ports, &per_ip, &per_account);
    let mut outcomes = Vec::new();
    for _ in 0..30 {
        let result = service
            .login(credentials("known@example.com", "Wrong123"))
            .await;
        outcomes.push(match result {
            Err(LoginError::InvalidCredentials) => "refused",
            Err(LoginError::Throttled { .. }) => "throttled",
            _ => "other",
        });
    }
    assert_eq!(outcomes[..5], ["refused"; 5]);
    assert_eq!(outcomes[5..], ["throttled"; 25]);
    assert_eq!(per_account.count("203.0.113.9|known@example.com"), 5);
}

#[tokio::test]
async fn unknown_emails_are_throttled_the_same_way() {
    let mut ports = Ports::with_users(Arc::new(InMemoryUserRepository::default()));
    ports
        .hasher
        .expect_verify()
        .times(2)
        .returning(|_, _| Ok(false));
    let (per_ip, per_account) = (
        Arc::new(CountingFailureCounter::new(50)),
        Arc::new(CountingFailureCounter::new(2)),
    );
    let service = throttled_service(ports, &per_ip, &per_account);
    for _ in 0..2 {
        let _ = service
            .login(credentials("ghost@example.com", "Wrong123"))
            .await;
    }
    let third = service
        .login(credentials("GHOST@example.com", "Wrong123"))
        .await;
    assert!(
        matches!(third, Err(LoginError::Throttled { .. })),
        "case variants are one account: {third:?}"
    );
}

#[tokio::test]
async fn the_per_ip_limit_covers_many_accounts() {
    let mut ports = Ports::with_users(Arc::new(InMemoryUserRepository::default()));
    ports
        .hasher
        .expect_verify()
        .times(3)
        .returning(|_, _| Ok(false));
    let (per_ip, per_account) = (
        Arc::new(CountingFailureCounter::new(3)),
        Arc::new(CountingFailureCounter::new(5)),
    );
    let service = throttled_service(ports, &per_ip, &per_account);
    for n in 0..3 {
        let _ = service
            .login(credentials(&format!("user{n}@example.com"), "Wrong123"))
            .await;
    }
    let fourth = service
        .login(credentials("user9@example.com", "Wrong123"))
        .await;
    assert!(
        matches!(fourth, Err(LoginError::Throttled { .. })),
        "{fourth:?}"
    );
}

#[tokio::test]
async fn a_success_resets_the_accounts_failures_but_not_the_clients() {
    let mut ports = Ports::with_users(repository_with(stored_user(7, true))).issuing_tokens();
    ports
        .hasher
        .expect_verify()
        .returning(|attempt, _| Ok(attempt.expose() == "Test1234"));
    let (per_ip, per_account) = (
        Arc::new(CountingFailureCounter::new(50)),
        Arc::new(CountingFailureCounter::new(5)),
    );
    let service = throttled_service(ports, &per_ip, &per_account);
    for _ in 0..4 {
        let _ = service
            .login(credentials("known@example.com", "Wrong123"))
            .await;
    }
    let ok = service
        .login(credentials("known@example.com", "Test1234"))
        .await;
    assert!(ok.is_ok(), "{ok:?}");
    assert_eq!(per_account.count("203.0.113.9|known@example.com"), 0);
    assert_eq!(per_ip.count("203.0.113.9"), 4);
}

// ---- refresh -----------------------------------------------------------------------------

#[tokio::test]
async fn refresh_with_a_valid_refresh_token_issues_a_new_pair() {
    let mut ports = Ports::with_users(repository_with(stored_user(7, true))).issuing_tokens();
    ports
        .verifier
        .expect_verify()
        .with(eq("the-refresh-token"), eq(TokenKind::Refresh), eq(now()))
        .times(1)
        .returning(|_, _, _| Ok(token_of(7, TokenKind::Refresh)));
    let pair = ports.service().refresh("the-refresh-token").await;
    assert!(
        matches!(&pair, Ok(p) if p.access_token.starts_with("access:7:") && p.refresh_token.starts_with("refresh:7:")),
        "{pair:?}"
    );
}

#[tokio::test]
async fn refresh_with_a_refused_token_is_invalid() {
    for error in [
        TokenError::Invalid,
        TokenError::Expired,
        TokenError::WrongKind,
    ] {
        let ports =
            Ports::with_users(Arc::new(InMemoryUserRepository::default())).verifying(Err(error));
        let result = ports.service().refresh("token").await;
        assert!(
            matches!(result, Err(RefreshError::InvalidToken)),
            "{error:?}: {result:?}"
        );
    }
}

#[tokio::test]
async fn refresh_for_a_missing_user_is_invalid() {
    let ports = Ports::with_users(Arc::new(InMemoryUserRepository::default()))
        .verifying(Ok(token_of(99, TokenKind::Refresh)));
    let result = ports.service().refresh("token").await;
    assert!(
        matches!(result, Err(RefreshError::InvalidToken)),
        "{result:?}"
    );
}

#[tokio::test]
async fn refresh_for_an_inactive_user_is_invalid() {
    let ports = Ports::with_users(repository_with(stored_user(7, false)))
        .verifying(Ok(token_of(7, TokenKind::Refresh)));
    let result = ports.service().refresh("token").await;
    assert!(
        matches!(result, Err(RefreshError::InvalidToken)),
        "{result:?}"
    );
}

#[tokio::test]
async fn refresh_reports_an_unreachable_store_as_unavailable() {
    let ports =
        Ports::with_users(unreachable_repository()).verifying(Ok(token_of(7, TokenKind::Refresh)));
    let result = ports.service().refresh("token").await;
    assert!(
        matches!(result, Err(RefreshError::Unavailable(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn refresh_reports_a_signing_failure_as_unexpected() {
    let mut ports = Ports::with_users(repository_with(stored_user(7, true)))
        .verifying(Ok(token_of(7, TokenKind::Refresh)));
    ports
        .issuer
        .expect_issue()
        .returning(|_, _, _| Err(IssueError(anyhow::anyhow!("bad key"))));
    let result = ports.service().refresh("token").await;
    assert!(
        matches!(result, Err(RefreshError::Unexpected(_))),
        "{result:?}"
    );
}

// ---- current user ------------------------------------------------------------------------

#[tokio::test]
async fn current_user_with_a_valid_access_token_is_its_user() {
    let mut ports = Ports::with_users(repository_with(stored_user(7, true)));
    ports
        .verifier
        .expect_verify()
        .with(eq("the-access-token"), eq(TokenKind::Access), eq(now()))
        .times(1)
        .returning(|_, _, _| Ok(token_of(7, TokenKind::Access)));
    let user = ports.service().current_user("the-access-token").await;
    assert!(matches!(user, Ok(u) if u.id() == UserId::new(7)));
}

#[tokio::test]
async fn current_user_with_a_refused_token_is_invalid_credentials() {
    for error in [
        TokenError::Invalid,
        TokenError::Expired,
        TokenError::WrongKind,
    ] {
        let ports =
            Ports::with_users(Arc::new(InMemoryUserRepository::default())).verifying(Err(error));
        let result = ports.service().current_user("token").await;
        assert!(
            matches!(result, Err(AuthenticateError::InvalidCredentials)),
            "{error:?}"
        );
    }
}

#[tokio::test]
async fn current_user_for_a_missing_or_inactive_user_is_invalid_credentials() {
    let missing = Ports::with_users(Arc::new(InMemoryUserRepository::default()))
        .verifying(Ok(token_of(7, TokenKind::Access)));
    let result = missing.service().current_user("token").await;
    assert!(
        matches!(result, Err(AuthenticateError::InvalidCredentials)),
        "{result:?}"
    );

    let inactive = Ports::with_users(repository_with(stored_user(7, false)))
        .verifying(Ok(token_of(7, TokenKind::Access)));
    let result = inactive.service().current_user("token").await;
    assert!(
        matches!(result, Err(AuthenticateError::InvalidCredentials)),
        "{result:?}"
    );
}

#[tokio::test]
async fn current_user_reports_an_unreachable_store_as_unavailable() {
    let ports =
        Ports::with_users(unreachable_repository()).verifying(Ok(token_of(7, TokenKind::Access)));
    let result = ports.service().current_user("token").await;
    assert!(
        matches!(result, Err(AuthenticateError::Unavailable(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_store_reporting_a_taken_email_outside_an_insert_is_unexpected() {
    let mut users = MockUserRepository::new();
    users
        .expect_find_by_id()
        .returning(|_| Err(RepositoryError::EmailTaken));
    let ports = Ports::with_users(Arc::new(users)).verifying(Ok(token_of(7, TokenKind::Access)));
    let result = ports.service().current_user("token").await;
    assert!(
        matches!(result, Err(AuthenticateError::Unexpected(_))),
        "{result:?}"
    );
}

// ---- logout ------------------------------------------------------------------------------

#[test]
fn logout_with_a_valid_access_token_names_its_user() {
    let ports = Ports::with_users(Arc::new(InMemoryUserRepository::default()))
        .verifying(Ok(token_of(7, TokenKind::Access)));
    assert_eq!(ports.service().logout(Some("token")), Some(UserId::new(7)));
}

#[test]
fn logout_with_a_bad_token_or_none_still_succeeds_anonymously() {
    let ports = Ports::with_users(Arc::new(InMemoryUserRepository::default()))
        .verifying(Err(TokenError::Invalid));
    let service = ports.service();
    assert_eq!(service.logout(Some("garbage")), None);
    assert_eq!(service.logout(None), None);
}
