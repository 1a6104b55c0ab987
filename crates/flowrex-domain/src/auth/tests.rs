//! Every branch of every use case, against the ports' mocks and fakes.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::*;
use crate::ports::{
    AccountStore, AccountStoreError, HashError, IssueError, MockAccountStore, MockPasswordHasher,
    MockSessionStore, MockTokenIssuer, MockTokenVerifier, MockUserRepository, PasswordHasher,
    RepositoryError, SessionStore, SessionStoreError, UserRepository,
};
use crate::test_support::{
    CountingFailureCounter, FixedClock, InMemoryStore, SettableClock, in_memory_ports,
};
use crate::{
    ClientInfo, CorePorts, EmailAddress, FullName, NewPassword, PasswordAttempt, PasswordHash,
    RevokeReason, ServicePorts, Services, SessionId, TokenPair, User, UserId, UserParts,
};

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
        last_login_at: None,
        security_stamp: crate::SecurityStamp::INITIAL,
    }
    .into()
}

/// A service over the given ports; unset ports are strict mocks that fail the test if used.
struct Ports {
    users: Arc<dyn UserRepository>,
    sessions: Option<Arc<dyn SessionStore>>,
    accounts: Option<Arc<dyn AccountStore>>,
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
            sessions: None,
            accounts: None,
            hasher,
            issuer: MockTokenIssuer::new(),
            verifier: MockTokenVerifier::new(),
        }
    }

    /// `user` behind a mocked repository, and stored where sessions are opened (a
    /// session is opened only for a user whose stamp is still the one signed in with).
    fn of(user: User) -> Self {
        let store = Arc::new(InMemoryStore::default());
        store.push(user.to_parts());
        let mut ports = Self::with_users(repository_with(user));
        ports.sessions = Some(store);
        ports
    }

    /// Users, sessions and account changes all in `store`.
    fn with_store(store: &Arc<InMemoryStore>) -> Self {
        let mut ports = Self::with_users(store.clone());
        ports.sessions = Some(store.clone());
        ports.accounts = Some(store.clone());
        ports
    }

    /// The hasher is asked to verify exactly `times` times, and says `matches` each time.
    fn verifying(mut self, times: usize, matches: bool) -> Self {
        self.hasher
            .expect_verify()
            .times(times)
            .returning(move |_, _| Ok(matches));
        self
    }

    fn issuing_tokens(mut self) -> Self {
        self.issuer.expect_issue().returning(|request| {
            Ok(format!(
                "{}:{}:{}",
                request.kind.as_str(),
                request.subject,
                request.expires_at.timestamp()
            ))
        });
        self
    }

    fn service(self) -> Services {
        self.services(Policies::default())
    }

    /// The services over these ports (the stores not given are empty in-memory ones),
    /// following `policies`.
    fn services(self, policies: Policies) -> Services {
        let rest = Arc::new(InMemoryStore::default());
        let sessions = self.sessions.unwrap_or_else(|| rest.clone());
        let accounts = self.accounts.unwrap_or_else(|| rest.clone());
        let clock: Arc<dyn Clock> = Arc::new(FixedClock(now()));
        let ports = in_memory_ports(&rest, clock);
        Services::new(
            ServicePorts {
                core: CorePorts {
                    users: self.users,
                    sessions,
                    accounts,
                    hasher: Arc::new(self.hasher),
                    issuer: Arc::new(self.issuer),
                    verifier: Arc::new(self.verifier),
                    ..ports.core
                },
                ..ports
            },
            policies,
        )
    }
}

/// The services as these tests use them: no account here has a second factor, so a
/// password login either signs in or fails.
trait SignsIn {
    async fn login(&self, attempt: LoginAttempt) -> Result<TokenPair, LoginError>;
}

impl SignsIn for Services {
    async fn login(&self, attempt: LoginAttempt) -> Result<TokenPair, LoginError> {
        self.sign_in
            .login(attempt)
            .await
            .map(|outcome| outcome.into_pair().expect("no second factor"))
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
    Arc::new(users)
}

fn registration(raw_email: &str) -> Registration {
    Registration {
        email: email(raw_email),
        password: password("Test1234"),
        full_name: None,
    }
}

fn credentials(raw_email: &str, raw_password: &str) -> LoginAttempt {
    LoginAttempt {
        email: email(raw_email),
        password: PasswordAttempt::new(raw_password.to_owned()),
        client: ClientInfo::new(Some(IpAddr::from([203, 0, 113, 9])), None),
    }
}

// ---- register ----------------------------------------------------------------------------

#[tokio::test]
async fn register_stores_the_hash_and_returns_the_new_user() {
    let users = Arc::new(InMemoryStore::default());
    let mut ports = Ports::with_store(&users);
    ports
        .hasher
        .expect_hash()
        .times(1)
        .returning(|p| Ok(PasswordHash::new(format!("hash-of-{p}"))));
    let service = ports.service();

    let user = service
        .accounts
        .register(Registration {
            full_name: Some(FullName::parse("Ada".to_owned()).unwrap_or_else(|_| panic!())),
            ..registration("new@example.com")
        })
        .await
        .expect("registration should succeed");

    assert_eq!(user.email().as_str(), "new@example.com");
    assert_eq!(user.full_name(), Some("Ada"));
    assert_eq!(user.password_hash().as_str(), "hash-of-Test1234");
    assert!(user.is_active() && !user.is_verified() && !user.is_superuser());
    assert_eq!(user.created_at(), now());
    let stored = users.find_by_email(&email("new@example.com")).await;
    assert_matches!(stored, Ok(Some(u)) if u == user, "the user should be stored");
}

#[tokio::test]
async fn register_with_a_taken_email_fails_without_hashing() {
    let service = Ports::of(stored_user(1, true)).service();
    let result = service
        .accounts
        .register(registration("known@example.com"))
        .await;
    assert_matches!(result, Err(RegisterError::EmailTaken));
}

#[tokio::test]
async fn register_losing_a_race_for_the_email_reports_it_taken() {
    let mut users = MockUserRepository::new();
    users.expect_find_by_email().returning(|_| Ok(None));
    let mut accounts = MockAccountStore::new();
    accounts
        .expect_apply()
        .times(1)
        .returning(|_, _| Err(AccountStoreError::EmailTaken));
    let mut ports = Ports::with_users(Arc::new(users));
    ports.accounts = Some(Arc::new(accounts));
    ports
        .hasher
        .expect_hash()
        .returning(|_| Ok(PasswordHash::new("h".to_owned())));
    let result = ports
        .service()
        .accounts
        .register(registration("race@example.com"))
        .await;
    assert_matches!(result, Err(RegisterError::EmailTaken));
}

#[tokio::test]
async fn register_reports_an_unreachable_store_as_unavailable() {
    let service = Ports::with_users(unreachable_repository()).service();
    let result = service
        .accounts
        .register(registration("a@example.com"))
        .await;
    assert_matches!(result, Err(RegisterError::Unavailable(_)));
}

#[tokio::test]
async fn register_reports_a_failed_insert_as_unexpected() {
    let mut users = MockUserRepository::new();
    users.expect_find_by_email().returning(|_| Ok(None));
    let mut accounts = MockAccountStore::new();
    accounts
        .expect_apply()
        .returning(|_, _| Err(AccountStoreError::Unexpected(anyhow::anyhow!("disk full"))));
    let mut ports = Ports::with_users(Arc::new(users));
    ports.accounts = Some(Arc::new(accounts));
    ports
        .hasher
        .expect_hash()
        .returning(|_| Ok(PasswordHash::new("h".to_owned())));
    let result = ports
        .service()
        .accounts
        .register(registration("a@example.com"))
        .await;
    assert_matches!(result, Err(RegisterError::Unexpected(_)));
}

#[tokio::test]
async fn register_reports_a_hashing_failure_as_unexpected() {
    let mut ports = Ports::with_users(Arc::new(InMemoryStore::default()));
    ports
        .hasher
        .expect_hash()
        .returning(|_| Err(HashError(anyhow::anyhow!("worker died"))));
    let result = ports
        .service()
        .accounts
        .register(registration("a@example.com"))
        .await;
    assert_matches!(result, Err(RegisterError::Unexpected(_)));
}

// ---- login -------------------------------------------------------------------------------

#[tokio::test]
async fn login_with_the_right_password_issues_an_access_and_a_refresh_token() {
    let mut ports = Ports::of(stored_user(7, true)).issuing_tokens();
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
        .expect("login should succeed");

    let access_exp = (now() + Duration::minutes(30)).timestamp();
    let refresh_exp = (now() + Duration::days(7)).timestamp();
    assert_eq!(pair.access_token, format!("access:7:{access_exp}"));
    assert_eq!(pair.refresh_token, format!("refresh:7:{refresh_exp}"));
    assert_eq!(pair.expires_in, 1800);
}

#[tokio::test]
async fn login_expires_in_follows_the_configured_access_lifetime() {
    let mut ports = Ports::of(stored_user(7, true)).issuing_tokens();
    ports.hasher.expect_verify().returning(|_, _| Ok(true));
    let service = ports.services(Policies {
        auth: AuthPolicy {
            access_ttl: Duration::minutes(5),
            refresh_ttl: Duration::days(1),
            refresh_reuse_grace: Duration::seconds(5),
        },
        ..Policies::default()
    });
    let pair = service
        .login(credentials("known@example.com", "Test1234"))
        .await;
    assert_matches!(pair, Ok(p) if p.expires_in == 300);
}

#[tokio::test]
async fn login_with_a_wrong_password_is_refused() {
    let ports = Ports::of(stored_user(7, true)).verifying(1, false);
    let result = ports
        .service()
        .login(credentials("known@example.com", "Wrong123"))
        .await;
    assert_matches!(result, Err(LoginError::InvalidCredentials));
}

#[tokio::test]
async fn login_with_unknown_email_still_runs_the_hasher_once() {
    let mut ports = Ports::with_users(Arc::new(InMemoryStore::default()));
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
    assert_matches!(result, Err(LoginError::InvalidCredentials));
}

#[tokio::test]
async fn login_of_an_inactive_user_is_refused_even_with_the_right_password() {
    let ports = Ports::of(stored_user(7, false)).verifying(1, true);
    let result = ports
        .service()
        .login(credentials("known@example.com", "Test1234"))
        .await;
    assert_matches!(result, Err(LoginError::InvalidCredentials));
}

#[tokio::test]
async fn login_reports_an_unreachable_store_as_unavailable() {
    let service = Ports::with_users(unreachable_repository()).service();
    let result = service
        .login(credentials("known@example.com", "Test1234"))
        .await;
    assert_matches!(result, Err(LoginError::Unavailable(_)));
}

#[tokio::test]
async fn login_reports_a_broken_hash_as_unexpected() {
    let mut ports = Ports::of(stored_user(7, true));
    ports
        .hasher
        .expect_verify()
        .returning(|_, _| Err(HashError(anyhow::anyhow!("invalid hash"))));
    let result = ports
        .service()
        .login(credentials("known@example.com", "Test1234"))
        .await;
    assert_matches!(result, Err(LoginError::Unexpected(_)));
}

#[tokio::test]
async fn login_reports_a_signing_failure_as_unexpected() {
    let mut ports = Ports::of(stored_user(7, true));
    ports.hasher.expect_verify().returning(|_, _| Ok(true));
    ports
        .issuer
        .expect_issue()
        .returning(|_| Err(IssueError(anyhow::anyhow!("bad key"))));
    let result = ports
        .service()
        .login(credentials("known@example.com", "Test1234"))
        .await;
    assert_matches!(result, Err(LoginError::Unexpected(_)));
}

#[tokio::test]
async fn a_password_bcrypt_cannot_check_in_full_never_matches_but_costs_a_verify() {
    let mut ports = Ports::of(stored_user(7, true));
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
    assert_matches!(result, Err(LoginError::InvalidCredentials));
}

#[tokio::test]
async fn a_successful_login_upgrades_a_hash_of_another_cost() {
    let users = Arc::new(InMemoryStore::default());
    users.push(stored_user(7, true).to_parts());
    let mut ports = Ports::with_store(&users).issuing_tokens();
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
    let mut ports = Ports::of(stored_user(7, true)).issuing_tokens();
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

/// A per-client and a per-account failure counter, allowing `per_client` and `per_account`
/// failures.
fn counters(
    per_client: u32,
    per_account: u32,
) -> (Arc<CountingFailureCounter>, Arc<CountingFailureCounter>) {
    (
        Arc::new(CountingFailureCounter::new(per_client)),
        Arc::new(CountingFailureCounter::new(per_account)),
    )
}

fn throttled_service(
    ports: Ports,
    per_client: &Arc<CountingFailureCounter>,
    per_account: &Arc<CountingFailureCounter>,
) -> Services {
    ports.services(Policies {
        throttle: LoginThrottle {
            per_client: Some(per_client.clone()),
            per_account: Some(per_account.clone()),
        },
        ..Policies::default()
    })
}

#[tokio::test]
async fn after_five_failures_an_account_is_throttled_without_running_the_hasher() {
    let mut ports = Ports::of(stored_user(7, true));
    // Five verifications, no more: the other 25 attempts never reach bcrypt.
    ports
        .hasher
        .expect_verify()
        .times(5)
        .returning(|_, _| Ok(false));
    let (per_ip, per_account) = counters(50, 5);
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
    let ports = Ports::with_users(Arc::new(InMemoryStore::default())).verifying(2, false);
    let (per_ip, per_account) = counters(50, 2);
    let service = throttled_service(ports, &per_ip, &per_account);
    for _ in 0..2 {
        let _ = service
            .login(credentials("ghost@example.com", "Wrong123"))
            .await;
    }
    let third = service
        .login(credentials("GHOST@example.com", "Wrong123"))
        .await;
    assert_matches!(
        third,
        Err(LoginError::Throttled { .. }),
        "case variants are one account: {third:?}"
    );
}

#[tokio::test]
async fn the_per_ip_limit_covers_many_accounts() {
    let ports = Ports::with_users(Arc::new(InMemoryStore::default())).verifying(3, false);
    let (per_ip, per_account) = counters(3, 5);
    let service = throttled_service(ports, &per_ip, &per_account);
    for n in 0..3 {
        let _ = service
            .login(credentials(&format!("user{n}@example.com"), "Wrong123"))
            .await;
    }
    let fourth = service
        .login(credentials("user9@example.com", "Wrong123"))
        .await;
    assert_matches!(fourth, Err(LoginError::Throttled { .. }));
}

/// A hasher that takes its time (yields to other tasks) and never matches: what lets
/// parallel attempts overlap.
struct SlowWrongHasher;

#[async_trait::async_trait]
impl PasswordHasher for SlowWrongHasher {
    async fn hash(&self, _: &str) -> Result<PasswordHash, HashError> {
        Err(HashError(anyhow::anyhow!("not used")))
    }
    fn needs_rehash(&self, _: &PasswordHash) -> bool {
        false
    }
    async fn verify<'a>(
        &self,
        _: &PasswordAttempt,
        _: Option<&'a PasswordHash>,
    ) -> Result<bool, HashError> {
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        Ok(false)
    }
}

#[tokio::test]
async fn parallel_attempts_are_reserved_before_checking_so_no_more_than_the_limit_run() {
    let users = repository_with(stored_user(7, true));
    let per_account = Arc::new(CountingFailureCounter::new(5));
    let rest = Arc::new(InMemoryStore::default());
    let ports = in_memory_ports(&rest, Arc::new(FixedClock(now())));
    let service = Services::new(
        ServicePorts {
            core: CorePorts {
                users,
                hasher: Arc::new(SlowWrongHasher),
                issuer: Arc::new(MockTokenIssuer::new()),
                verifier: Arc::new(MockTokenVerifier::new()),
                ..ports.core
            },
            ..ports
        },
        Policies {
            throttle: LoginThrottle {
                per_client: Some(Arc::new(CountingFailureCounter::new(50))),
                per_account: Some(per_account.clone()),
            },
            ..Policies::default()
        },
    );
    let attempts = (0..25).map(|_| service.login(credentials("known@example.com", "Wrong123")));
    let results = futures::future::join_all(attempts).await;
    let refused = results
        .iter()
        .filter(|r| matches!(r, Err(LoginError::InvalidCredentials)))
        .count();
    let throttled = results
        .iter()
        .filter(|r| matches!(r, Err(LoginError::Throttled { .. })))
        .count();
    assert_eq!((refused, throttled), (5, 20));
    assert_eq!(per_account.count("203.0.113.9|known@example.com"), 5);
}

#[tokio::test]
async fn an_attempt_the_store_could_not_check_is_given_back() {
    let mut ports = Ports::with_users(unreachable_repository());
    ports.hasher.expect_verify().never();
    let (per_ip, per_account) = counters(50, 5);
    let service = throttled_service(ports, &per_ip, &per_account);
    for _ in 0..10 {
        let result = service
            .login(credentials("known@example.com", "Wrong123"))
            .await;
        assert_matches!(result, Err(LoginError::Unavailable(_)));
    }
    assert_eq!(per_account.count("203.0.113.9|known@example.com"), 0);
    assert_eq!(per_ip.count("203.0.113.9"), 0);
}

#[tokio::test]
async fn a_success_resets_the_accounts_failures_but_not_the_clients() {
    let mut ports = Ports::of(stored_user(7, true)).issuing_tokens();
    ports
        .hasher
        .expect_verify()
        .returning(|attempt, _| Ok(attempt.expose() == "Test1234"));
    let (per_ip, per_account) = counters(50, 5);
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

// ---- sessions: a whole service over fakes -------------------------------------------------

/// A service over in-memory users and sessions, readable tokens and a clock tests move.
struct World {
    store: Arc<InMemoryStore>,
    clock: Arc<SettableClock>,
    service: Services,
}

fn world() -> World {
    world_with_sessions(None)
}

fn world_with_sessions(sessions: Option<Arc<dyn SessionStore>>) -> World {
    let store = Arc::new(InMemoryStore::default());
    store.push(stored_user(7, true).to_parts());
    store.push(UserParts {
        id: UserId::new(8),
        email: email("other@example.com"),
        ..stored_user(8, true).to_parts()
    });
    let clock = Arc::new(SettableClock::new(now()));
    let mut hasher = MockPasswordHasher::new();
    hasher.expect_needs_rehash().return_const(false);
    hasher
        .expect_verify()
        .returning(|attempt, hash| Ok(hash.is_some() && attempt.expose() == "Test1234"));
    let ports = in_memory_ports(&store, clock.clone());
    let service = Services::new(
        ServicePorts {
            core: CorePorts {
                sessions: sessions.unwrap_or_else(|| store.clone()),
                hasher: Arc::new(hasher),
                ..ports.core
            },
            ..ports
        },
        Policies::default(),
    );
    World {
        store,
        clock,
        service,
    }
}

impl World {
    async fn login(&self, raw_email: &str) -> TokenPair {
        self.service
            .login(LoginAttempt {
                client: ClientInfo::new(
                    Some(IpAddr::from([203, 0, 113, 9])),
                    Some("test-agent".to_owned()),
                ),
                ..credentials(raw_email, "Test1234")
            })
            .await
            .expect("login")
    }

    async fn is_valid(&self, access: &str) -> bool {
        self.service
            .sign_in
            .authenticate(access)
            .await
            .map(|a| a.user)
            .is_ok()
    }
}

#[tokio::test]
async fn login_opens_a_session_that_stores_only_the_refresh_fingerprint() {
    let world = world();
    let pair = world.login("known@example.com").await;
    let sessions = world.store.sessions();
    assert_eq!(sessions.len(), 1);
    let session = &sessions[0];
    assert_eq!(session.user_id, UserId::new(7));
    assert_eq!(
        session.refresh_token_hash,
        crate::TokenFingerprint::of(&pair.refresh_token)
    );
    assert_eq!(session.expires_at, now() + Duration::days(7));
    assert_eq!(session.user_agent.as_deref(), Some("test-agent"));
    assert_eq!(session.ip.as_deref(), Some("203.0.113.9"));
    assert!(
        pair.access_token.contains(session.id.as_str()),
        "tokens carry the session id"
    );
}

#[tokio::test]
async fn refresh_rotates_the_refresh_token_and_the_new_pair_works() {
    let world = world();
    let first = world.login("known@example.com").await;
    let second = world.service.sign_in.refresh(&first.refresh_token).await;
    let second = second.expect("refresh");
    assert_ne!(second.refresh_token, first.refresh_token);
    assert!(world.is_valid(&second.access_token).await);
    let session = &world.store.sessions()[0];
    assert_eq!(
        session.refresh_token_hash,
        crate::TokenFingerprint::of(&second.refresh_token)
    );
    assert_eq!(session.rotated_at, Some(now()));
    assert!(
        world
            .service
            .sign_in
            .refresh(&second.refresh_token)
            .await
            .is_ok(),
        "and rotates again"
    );
}

#[tokio::test]
async fn a_replayed_refresh_token_revokes_the_whole_family() {
    let world = world();
    let first = world.login("known@example.com").await;
    let second = world
        .service
        .sign_in
        .refresh(&first.refresh_token)
        .await
        .unwrap();
    world.clock.advance(Duration::seconds(6));
    let replay = world.service.sign_in.refresh(&first.refresh_token).await;
    assert_matches!(replay, Err(RefreshError::InvalidToken));
    assert_eq!(
        world.store.sessions()[0].revoked_reason.as_deref(),
        Some("refresh_token_reuse")
    );
    let legitimate = world.service.sign_in.refresh(&second.refresh_token).await;
    assert_matches!(
        legitimate,
        Err(RefreshError::InvalidToken),
        "the newest token dies too"
    );
    assert!(
        !world.is_valid(&second.access_token).await,
        "and so do access tokens"
    );
}

#[tokio::test]
async fn a_replay_within_the_grace_period_is_refused_without_revoking() {
    let world = world();
    let first = world.login("known@example.com").await;
    let second = world
        .service
        .sign_in
        .refresh(&first.refresh_token)
        .await
        .unwrap();
    world.clock.advance(Duration::seconds(4));
    let duplicate = world.service.sign_in.refresh(&first.refresh_token).await;
    assert_matches!(duplicate, Err(RefreshError::InvalidToken));
    assert_eq!(world.store.sessions()[0].revoked_at, None);
    assert!(
        world
            .service
            .sign_in
            .refresh(&second.refresh_token)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn refresh_is_refused_for_bad_tokens_dead_sessions_and_gone_users() {
    let world = world();
    let pair = world.login("known@example.com").await;
    for token in [
        "garbage",
        pair.access_token.as_str(),
        "refresh|7|not-a-uuid|9999999999|pwd|0",
    ] {
        let result = world.service.sign_in.refresh(token).await;
        assert_matches!(
            result,
            Err(RefreshError::InvalidToken),
            "{token}: {result:?}"
        );
    }
    let forged_session = format!("refresh|7|{}|9999999999|pwd|0", SessionId::generate());
    assert_matches!(
        world.service.sign_in.refresh(&forged_session).await,
        Err(RefreshError::InvalidToken)
    );

    let other = world.login("other@example.com").await;
    let stolen_sid = world.store.sessions()[1].id.clone();
    let mismatched = format!("refresh|7|{stolen_sid}|9999999999|pwd|0");
    assert_matches!(
        world.service.sign_in.refresh(&mismatched).await,
        Err(RefreshError::InvalidToken),
        "another user's session"
    );
    assert!(
        world
            .service
            .sign_in
            .refresh(&other.refresh_token)
            .await
            .is_ok(),
        "a forged sid does not touch the real session"
    );

    world.store.set_active(UserId::new(7), false);
    let inactive = world.service.sign_in.refresh(&pair.refresh_token).await;
    assert_matches!(inactive, Err(RefreshError::InvalidToken));

    world.clock.advance(Duration::days(8));
    let expired = world.service.sign_in.refresh(&other.refresh_token).await;
    assert_matches!(expired, Err(RefreshError::InvalidToken));
}

#[tokio::test]
async fn current_user_needs_a_live_session_and_an_active_user() {
    let world = world();
    let pair = world.login("known@example.com").await;
    assert_matches!(world.service.sign_in.authenticate(&pair.access_token).await.map(|a| a.user), Ok(u) if u.id() == UserId::new(7));
    for token in ["garbage", pair.refresh_token.as_str()] {
        let result = world
            .service
            .sign_in
            .authenticate(token)
            .await
            .map(|a| a.user);
        assert_matches!(
            result,
            Err(AuthenticateError::InvalidCredentials),
            "{token}"
        );
    }
    let session = world.store.sessions()[0].id.clone();
    let _ = world
        .store
        .revoke(&session, RevokeReason::Logout, now(), None)
        .await;
    let revoked = world
        .service
        .sign_in
        .authenticate(&pair.access_token)
        .await
        .map(|a| a.user);
    assert_matches!(revoked, Err(AuthenticateError::InvalidCredentials));
}

#[tokio::test]
async fn logout_revokes_the_session_of_the_token_given() {
    let world = world();
    let phone = world.login("known@example.com").await;
    let laptop = world.login("known@example.com").await;
    let result = world
        .service
        .sign_in
        .logout(LogoutRequest {
            access_token: Some(&phone.access_token),
            ..LogoutRequest::default()
        })
        .await;
    assert!(result.is_ok());
    assert!(!world.is_valid(&phone.access_token).await);
    assert_matches!(
        world.service.sign_in.refresh(&phone.refresh_token).await,
        Err(RefreshError::InvalidToken)
    );
    assert!(
        world.is_valid(&laptop.access_token).await,
        "other sessions stay"
    );

    let by_refresh = world
        .service
        .sign_in
        .logout(LogoutRequest {
            refresh_token: Some(&laptop.refresh_token),
            ..LogoutRequest::default()
        })
        .await;
    assert!(by_refresh.is_ok());
    assert!(
        !world.is_valid(&laptop.access_token).await,
        "a refresh token logs its session out too"
    );
}

#[tokio::test]
async fn logout_everywhere_revokes_every_session_of_the_user_only() {
    let world = world();
    let sessions = [
        world.login("known@example.com").await,
        world.login("known@example.com").await,
    ];
    let bystander = world.login("other@example.com").await;
    let result = world
        .service
        .sign_in
        .logout(LogoutRequest {
            access_token: Some(&sessions[0].access_token),
            everywhere: true,
            ..LogoutRequest::default()
        })
        .await;
    assert!(result.is_ok());
    for pair in &sessions {
        assert!(!world.is_valid(&pair.access_token).await);
    }
    assert!(world.is_valid(&bystander.access_token).await);
    assert!(
        world
            .store
            .sessions()
            .iter()
            .filter(|s| s.user_id == UserId::new(7))
            .all(|s| s.revoked_reason.as_deref() == Some("logout_all"))
    );
}

#[tokio::test]
async fn logout_without_a_usable_token_succeeds_and_changes_nothing() {
    let world = world();
    let pair = world.login("known@example.com").await;
    assert!(
        world
            .service
            .sign_in
            .logout(LogoutRequest::default())
            .await
            .is_ok()
    );
    let garbage = LogoutRequest {
        access_token: Some("garbage"),
        refresh_token: Some("junk"),
        everywhere: true,
    };
    assert!(world.service.sign_in.logout(garbage).await.is_ok());
    assert!(world.is_valid(&pair.access_token).await);
}

fn unreachable_sessions() -> Arc<dyn SessionStore> {
    let down = || SessionStoreError::Unavailable(anyhow::anyhow!("connection refused"));
    let mut sessions = MockSessionStore::new();
    sessions
        .expect_create()
        .returning(move |_, _, _| Err(down()));
    sessions.expect_find().returning(move |_| Err(down()));
    sessions
        .expect_find_active_user()
        .returning(move |_, _, _| Err(down()));
    sessions
        .expect_revoke()
        .returning(move |_, _, _, _| Err(down()));
    Arc::new(sessions)
}

#[tokio::test]
async fn an_unreachable_session_store_is_reported_as_unavailable() {
    let world = world_with_sessions(Some(unreachable_sessions()));
    let login = world
        .service
        .login(credentials("known@example.com", "Test1234"))
        .await;
    assert_matches!(login, Err(LoginError::Unavailable(_)));
    let token = format!("access|7|{}|9999999999|pwd|0", SessionId::generate());
    let me = world
        .service
        .sign_in
        .authenticate(&token)
        .await
        .map(|a| a.user);
    assert_matches!(me, Err(AuthenticateError::Unavailable(_)));
    let refresh = world
        .service
        .sign_in
        .refresh(&token.replace("access", "refresh"))
        .await;
    assert_matches!(refresh, Err(RefreshError::Unavailable(_)));
    let logout = world
        .service
        .sign_in
        .logout(LogoutRequest {
            access_token: Some(&token),
            ..LogoutRequest::default()
        })
        .await;
    assert_matches!(
        logout,
        Err(LogoutError::Unavailable(_)),
        "a logout that did not happen is not reported as done"
    );
}

#[tokio::test]
async fn sessions_are_listed_and_revoked_only_by_their_owner() {
    let world = world();
    let first = world.login("known@example.com").await;
    let second = world.login("known@example.com").await;
    let intruder = world.login("other@example.com").await;
    let caller = world
        .service
        .sign_in
        .authenticate(&second.access_token)
        .await
        .unwrap();
    let intruder = world
        .service
        .sign_in
        .authenticate(&intruder.access_token)
        .await
        .unwrap();
    let current = caller.session.clone();
    let listed = world.service.sign_in.list_sessions(&caller).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().any(|s| s.id == current));
    let first_id = listed
        .iter()
        .find(|s| s.id != current)
        .map(|s| s.id.to_string())
        .unwrap_or_default();

    let stolen = world
        .service
        .sign_in
        .revoke_session(&intruder, &first_id)
        .await;
    assert_matches!(stolen, Err(RevokeSessionError::NotFound));
    for id in ["nonsense", "00000000-0000-4000-8000-000000000000"] {
        let result = world.service.sign_in.revoke_session(&caller, id).await;
        assert_matches!(result, Err(RevokeSessionError::NotFound), "{id}");
    }
    assert!(
        world
            .service
            .sign_in
            .revoke_session(&caller, &first_id)
            .await
            .is_ok()
    );
    assert!(!world.is_valid(&first.access_token).await);
    assert!(world.is_valid(&second.access_token).await);
    let again = world
        .service
        .sign_in
        .revoke_session(&caller, &first_id)
        .await;
    assert_matches!(
        again,
        Err(RevokeSessionError::NotFound),
        "a revoked session is gone"
    );
}

#[tokio::test]
async fn expired_sessions_are_deleted_in_batches() {
    let world = world();
    for _ in 0..5 {
        world.login("known@example.com").await;
    }
    world.clock.advance(Duration::days(8));
    let fresh = world.login("known@example.com").await;
    let deleted = world.service.sign_in.delete_expired_sessions(2).await;
    assert_matches!(deleted, Ok(5));
    assert_eq!(world.store.sessions().len(), 1);
    assert!(world.is_valid(&fresh.access_token).await);
    assert_matches!(
        world.service.sign_in.delete_expired_sessions(0).await,
        Ok(0),
        "a batch of 0 deletes nothing and ends"
    );
}

// ---- operator commands -------------------------------------------------------------------

#[tokio::test]
async fn an_operator_can_create_an_administrator_but_registration_never_does() {
    let store = Arc::new(InMemoryStore::default());
    let mut ports = Ports::with_store(&store);
    ports
        .hasher
        .expect_hash()
        .returning(|_| Ok(PasswordHash::new("h".to_owned())));
    let service = ports.service();
    let admin = service
        .admin
        .create_user(registration("admin@example.com"), true, false)
        .await;
    assert_matches!(admin, Ok(u) if u.is_superuser());
    let user = service
        .accounts
        .register(registration("user@example.com"))
        .await;
    assert_matches!(user, Ok(u) if !u.is_superuser());
}

#[tokio::test]
async fn deactivating_a_user_ends_its_sessions_at_once() {
    let world = world();
    let pair = world.login("known@example.com").await;
    let result = world
        .service
        .admin
        .deactivate(&email("KNOWN@example.com"))
        .await;
    assert_matches!(result, Ok(true));
    assert!(!world.is_valid(&pair.access_token).await);
    assert!(
        world
            .store
            .sessions()
            .iter()
            .all(|s| s.revoked_reason.as_deref() == Some("user_deactivated"))
    );
    let login = world
        .service
        .login(credentials("known@example.com", "Test1234"))
        .await;
    assert_matches!(login, Err(LoginError::InvalidCredentials));
    assert_matches!(
        world
            .service
            .admin
            .deactivate(&email("nobody@example.com"))
            .await,
        Ok(false)
    );
}
