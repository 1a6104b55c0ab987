//! Second factors over the in-memory store and a controlled clock: enrolment, activation,
//! the login that asks for a code, replays (sequential and concurrent), recovery codes,
//! the `aal2` rules and removal.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::*;
use crate::mfa::MFA_TOKEN_TRIES;
use crate::ports::Sealer;
use crate::test_support::{
    InMemoryStore, PlainHasher, PlainSealer, SettableClock, StepCodes, counting_throttle,
    in_memory_ports,
};
use crate::{
    Aal, Assurance, AuthMethod, ClientInfo, EmailAddress, MailPurpose, NewPassword,
    PasswordAttempt, RecoveryCode, TokenPair, User,
};
use crate::{CorePorts, ServicePorts, Services};

struct World {
    store: Arc<InMemoryStore>,
    clock: Arc<SettableClock>,
    service: Services,
}

const EMAIL: &str = "ada@example.com";
const PASSWORD: &str = "Secret123";

fn client() -> ClientInfo {
    ClientInfo::new(Some(IpAddr::from([198, 51, 100, 7])), None)
}

fn world() -> World {
    world_hashing_with(Arc::new(PlainHasher))
}

/// [`PlainHasher`], but every stored hash is of an older cost: each right password is
/// rehashed.
struct AlwaysRehash;

#[async_trait::async_trait]
impl PasswordHasher for AlwaysRehash {
    async fn hash(&self, secret: &str) -> Result<crate::PasswordHash, crate::ports::HashError> {
        PlainHasher.hash(secret).await
    }

    fn needs_rehash(&self, _hash: &crate::PasswordHash) -> bool {
        true
    }

    async fn verify<'a>(
        &self,
        attempt: &PasswordAttempt,
        hash: Option<&'a crate::PasswordHash>,
    ) -> Result<bool, crate::ports::HashError> {
        PlainHasher.verify(attempt, hash).await
    }
}

fn world_hashing_with(hasher: Arc<dyn PasswordHasher>) -> World {
    world_of(hasher, counting_throttle(50, 5), |store| store)
}

/// A world over `hasher` and `throttle`, whose factor store is what `factors` makes of the
/// in-memory one.
fn world_of(
    hasher: Arc<dyn PasswordHasher>,
    throttle: LoginThrottle,
    factors: impl FnOnce(Arc<InMemoryStore>) -> Arc<dyn MfaStore>,
) -> World {
    let store = Arc::new(InMemoryStore::default());
    // 09:00:10: the 10th second of a 30-second step.
    let clock = Arc::new(SettableClock::new(
        Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 10).unwrap(),
    ));
    let ports = in_memory_ports(&store, clock.clone());
    let service = Services::new(
        ServicePorts {
            core: CorePorts {
                hasher,
                factors: factors(store.clone()),
                ..ports.core
            },
            ..ports
        },
        Policies {
            throttle,
            ..Policies::default()
        },
    );
    World {
        store,
        clock,
        service,
    }
}

impl World {
    /// Registers the user and verifies the address through the mailed link (a way to sign
    /// in is added only to a verified address).
    async fn register(&self) -> User {
        self.service
            .accounts
            .register(Registration {
                email: EmailAddress::parse(EMAIL).unwrap(),
                password: NewPassword::parse(PASSWORD.to_owned()).unwrap(),
                full_name: None,
            })
            .await
            .unwrap();
        let token = self
            .store
            .last_link_token(MailPurpose::VerifyEmail)
            .unwrap();
        self.service
            .accounts
            .confirm_verification(&token)
            .await
            .unwrap()
    }

    async fn login(&self) -> Result<LoginOutcome, LoginError> {
        self.service
            .sign_in
            .login(LoginAttempt {
                email: EmailAddress::parse(EMAIL).unwrap(),
                password: PasswordAttempt::new(PASSWORD.to_owned()),
                client: client(),
            })
            .await
    }

    /// A login that signs in (no factor active): its pair.
    async fn signed_in(&self) -> TokenPair {
        self.login().await.unwrap().into_pair().unwrap()
    }

    async fn authenticate(&self, pair: &TokenPair) -> Authenticated {
        self.service
            .sign_in
            .authenticate(&pair.access_token)
            .await
            .unwrap()
    }

    fn now(&self) -> DateTime<Utc> {
        use crate::ports::Clock;
        self.clock.now()
    }

    /// The secret of the user's factor (as the authenticator app holds it).
    async fn secret(&self, user: &User) -> Vec<u8> {
        use crate::ports::MfaStore;
        let factors = self.store.totp_factors(user.id()).await.unwrap();
        let factor = factors.last().unwrap();
        PlainSealer.open(&factor.secret).unwrap()
    }

    /// Registers, enrols and activates: the user, its secret and recovery codes.
    async fn enrolled(&self) -> (User, Vec<u8>, Vec<RecoveryCode>) {
        let user = self.register().await;
        let caller = self.authenticate(&self.signed_in().await).await;
        self.service
            .factors
            .enroll_totp(
                &caller,
                &PasswordAttempt::new(PASSWORD.to_owned()),
                &client(),
            )
            .await
            .unwrap();
        let secret = self.secret(&user).await;
        let codes = self
            .service
            .factors
            .activate_totp(&caller, &StepCodes::code_at(&secret, self.now()))
            .await
            .unwrap();
        (user, secret, codes)
    }

    async fn challenge(&self) -> String {
        match self.login().await {
            Ok(LoginOutcome::SecondFactorRequired(required)) => {
                assert_eq!(
                    required.methods,
                    [crate::SecondFactor::Totp, crate::SecondFactor::RecoveryCode]
                );
                required.token.expose().to_owned()
            }
            other => panic!("expected mfa_required, got {other:?}"),
        }
    }

    /// Resets the password to `new` through the mailed link.
    async fn reset_password_to(&self, new: &str) {
        self.service
            .accounts
            .forgot_password(&EmailAddress::parse(EMAIL).unwrap())
            .await
            .unwrap();
        let token = self
            .store
            .last_link_token(MailPurpose::ResetPassword)
            .unwrap();
        self.service
            .accounts
            .reset_password(&token, NewPassword::parse(new.to_owned()).unwrap())
            .await
            .unwrap();
    }

    async fn verify(
        &self,
        token: &str,
        proof: SecondFactorProof,
    ) -> Result<TokenPair, MfaVerifyError> {
        self.service
            .sign_in
            .verify_second_factor(token, proof, client())
            .await
    }
}

#[tokio::test]
async fn a_user_without_a_factor_logs_in_with_the_password_alone_at_aal1() {
    let world = world();
    world.register().await;
    let caller = world.authenticate(&world.signed_in().await).await;
    assert_eq!(caller.assurance, Assurance::PASSWORD);
    assert_eq!(caller.assurance.aal(), Aal::Aal1);
    assert_eq!(world.store.sessions()[0].assurance, Assurance::PASSWORD);
}

#[tokio::test]
async fn enrolment_stays_pending_until_a_code_activates_it_and_that_code_counts_as_used() {
    let world = world();
    let user = world.register().await;
    let caller = world.authenticate(&world.signed_in().await).await;
    let wrong = world
        .service
        .factors
        .enroll_totp(
            &caller,
            &PasswordAttempt::new("Wrong1234".to_owned()),
            &client(),
        )
        .await;
    assert_matches!(wrong, Err(MfaError::WrongPassword));
    let provisioning = world
        .service
        .factors
        .enroll_totp(
            &caller,
            &PasswordAttempt::new(PASSWORD.to_owned()),
            &client(),
        )
        .await
        .unwrap();
    assert!(provisioning.uri.starts_with("otpauth://totp/"));
    // Pending: login is unchanged.
    assert_matches!(world.login().await, Ok(LoginOutcome::SignedIn(_)));
    let secret = world.secret(&user).await;
    let stored = {
        use crate::ports::MfaStore;
        world.store.totp_factors(user.id()).await.unwrap()
    };
    assert_ne!(stored[0].secret.as_str().as_bytes(), secret.as_slice());
    let code = StepCodes::code_at(&secret, world.now());
    let bad = world.service.factors.activate_totp(&caller, "000000").await;
    assert_matches!(bad, Err(MfaError::InvalidCode));
    let codes = world
        .service
        .factors
        .activate_totp(&caller, &code)
        .await
        .unwrap();
    assert_eq!(codes.len(), 10);
    assert_eq!(world.store.unused_recovery_codes(user.id()), 10);
    // Activated: the password alone no longer logs in, and the activating code is spent.
    let token = world.challenge().await;
    let replay = world.verify(&token, SecondFactorProof::Code(code)).await;
    assert_matches!(replay, Err(MfaVerifyError::InvalidCode));
    assert!(world.store.actions().contains(&"mfa_activated".to_owned()));
    assert!(
        world
            .store
            .queued_mails()
            .iter()
            .any(|m| m.purpose == MailPurpose::MfaEnabled)
    );
}

#[tokio::test]
async fn a_code_completes_the_login_once_at_aal2_and_refresh_keeps_the_level() {
    let world = world();
    let (_, secret, _) = world.enrolled().await;
    world.clock.advance(Duration::seconds(30));
    let token = world.challenge().await;
    let code = StepCodes::code_at(&secret, world.now());
    let pair = world
        .verify(&token, SecondFactorProof::Code(code.clone()))
        .await
        .unwrap();
    let caller = world.authenticate(&pair).await;
    assert_eq!(
        caller.assurance,
        Assurance::of([AuthMethod::Password, AuthMethod::Otp])
    );
    assert_eq!(caller.assurance.aal(), Aal::Aal2);
    // The same code again, with a fresh challenge: refused (its step is spent).
    let again = world.challenge().await;
    let replay = world.verify(&again, SecondFactorProof::Code(code)).await;
    assert_matches!(replay, Err(MfaVerifyError::InvalidCode));
    // The used challenge is gone.
    let reused = world
        .verify(
            &token,
            SecondFactorProof::Code(StepCodes::code_at(&secret, world.now())),
        )
        .await;
    assert_matches!(reused, Err(MfaVerifyError::InvalidChallenge));
    // Refreshed tokens keep the session's level.
    let refreshed = world
        .service
        .sign_in
        .refresh(&pair.refresh_token)
        .await
        .unwrap();
    assert_eq!(
        world.authenticate(&refreshed).await.assurance.aal(),
        Aal::Aal2
    );
}

#[tokio::test]
async fn the_window_is_one_step_either_way_and_an_older_step_never_follows_a_newer_one() {
    let world = world();
    let (_, secret, _) = world.enrolled().await;
    world.clock.advance(Duration::seconds(90));
    let now = world.now();
    let step = u64::try_from(now.timestamp()).unwrap() / 30;
    let token = world.challenge().await;
    // Two steps back and two ahead: outside the window.
    for outside in [step - 2, step + 2] {
        let result = world
            .verify(
                &token,
                SecondFactorProof::Code(StepCodes::code(&secret, outside)),
            )
            .await;
        assert_matches!(result, Err(MfaVerifyError::InvalidCode));
    }
    // One ahead: accepted.
    world
        .verify(
            &token,
            SecondFactorProof::Code(StepCodes::code(&secret, step + 1)),
        )
        .await
        .unwrap();
    // Then the current step (older than the accepted one) is refused.
    let token = world.challenge().await;
    let older = world
        .verify(
            &token,
            SecondFactorProof::Code(StepCodes::code(&secret, step)),
        )
        .await;
    assert_matches!(older, Err(MfaVerifyError::InvalidCode));
}

#[tokio::test]
async fn concurrent_verifications_with_one_code_let_exactly_one_through() {
    let world = world();
    let (_, secret, _) = world.enrolled().await;
    world.clock.advance(Duration::seconds(30));
    let first = world.challenge().await;
    let second = world.challenge().await;
    let code = StepCodes::code_at(&secret, world.now());
    let (a, b) = futures::join!(
        world.verify(&first, SecondFactorProof::Code(code.clone())),
        world.verify(&second, SecondFactorProof::Code(code)),
    );
    assert_eq!(u8::from(a.is_ok()) + u8::from(b.is_ok()), 1, "{a:?} {b:?}");
}

#[tokio::test]
async fn an_mfa_token_expires_after_five_minutes_and_allows_five_tries() {
    let world = world();
    let (_, secret, _) = world.enrolled().await;
    world.clock.advance(Duration::seconds(30));
    let token = world.challenge().await;
    world.clock.advance(Duration::minutes(5));
    let late = world
        .verify(
            &token,
            SecondFactorProof::Code(StepCodes::code_at(&secret, world.now())),
        )
        .await;
    assert_matches!(late, Err(MfaVerifyError::InvalidChallenge));
    let garbage = world
        .verify("not-a-token", SecondFactorProof::Code("123456".to_owned()))
        .await;
    assert_matches!(garbage, Err(MfaVerifyError::InvalidChallenge));

    let token = world.challenge().await;
    for _ in 0..MFA_TOKEN_TRIES {
        let wrong = world
            .verify(&token, SecondFactorProof::Code("999999".to_owned()))
            .await;
        assert_matches!(wrong, Err(MfaVerifyError::InvalidCode));
    }
    // A sixth try, even with the right code: the challenge is spent.
    let right = StepCodes::code_at(&secret, world.now());
    let spent = world.verify(&token, SecondFactorProof::Code(right)).await;
    assert_matches!(spent, Err(MfaVerifyError::InvalidChallenge));
}

#[tokio::test]
async fn failed_codes_are_throttled_like_logins_and_a_right_password_does_not_reset_them() {
    let world = world();
    world.enrolled().await;
    world.clock.advance(Duration::seconds(30));
    // The per-account limit is 5: five wrong codes over two challenges, with the right
    // password given again in between.
    for tries in [3, 2] {
        let token = world.challenge().await;
        for _ in 0..tries {
            let wrong = world
                .verify(&token, SecondFactorProof::Code("999999".to_owned()))
                .await;
            assert_matches!(wrong, Err(MfaVerifyError::InvalidCode));
        }
    }
    // The account is now throttled for this client: the right password is refused
    // unchecked.
    assert_matches!(world.login().await, Err(LoginError::Throttled { .. }));
}

#[tokio::test]
async fn a_recovery_code_works_exactly_once_and_is_audited_and_mailed() {
    let world = world();
    let (user, _, codes) = world.enrolled().await;
    let code = codes[3].display();
    let token = world.challenge().await;
    let pair = world
        .verify(&token, SecondFactorProof::RecoveryCode(code.to_uppercase()))
        .await
        .unwrap();
    let caller = world.authenticate(&pair).await;
    assert_eq!(
        caller.assurance,
        Assurance::of([AuthMethod::Password, AuthMethod::Recovery])
    );
    assert_eq!(world.store.unused_recovery_codes(user.id()), 9);
    let token = world.challenge().await;
    let again = world
        .verify(&token, SecondFactorProof::RecoveryCode(code))
        .await;
    assert_matches!(again, Err(MfaVerifyError::InvalidCode));
    assert!(
        world
            .store
            .actions()
            .contains(&"recovery_code_used".to_owned())
    );
    assert!(
        world
            .store
            .queued_mails()
            .iter()
            .any(|m| m.purpose == MailPurpose::RecoveryCodeUsed)
    );
}

#[tokio::test]
async fn managing_the_factor_and_changing_the_password_need_aal2() {
    let world = world();
    let (user, secret, old_codes) = world.enrolled().await;
    // The session that enrolled is still at aal1.
    world.clock.advance(Duration::seconds(30));
    let token = world.challenge().await;
    let strong = world
        .verify(
            &token,
            SecondFactorProof::Code(StepCodes::code_at(&secret, world.now())),
        )
        .await
        .unwrap();
    let strong = world.authenticate(&strong).await;
    let weak = Authenticated {
        assurance: Assurance::PASSWORD,
        ..strong.clone()
    };
    world.clock.advance(Duration::seconds(30));
    let code = StepCodes::code_at(&secret, world.now());
    let refused = world
        .service
        .factors
        .regenerate_recovery_codes(&weak, &code)
        .await;
    assert_matches!(refused, Err(MfaError::Aal2Required));
    let change = world
        .service
        .accounts
        .change_password(
            &weak,
            &PasswordAttempt::new(PASSWORD.to_owned()),
            NewPassword::parse("Another123".to_owned()).unwrap(),
            &client(),
        )
        .await;
    assert_matches!(change, Err(AccountError::Aal2Required));
    let enroll = world
        .service
        .factors
        .enroll_totp(&weak, &PasswordAttempt::new(PASSWORD.to_owned()), &client())
        .await;
    assert_matches!(enroll, Err(MfaError::Aal2Required));

    let fresh = world
        .service
        .factors
        .regenerate_recovery_codes(&strong, &code)
        .await
        .unwrap();
    assert_eq!(world.store.unused_recovery_codes(user.id()), 10);
    // The old set stopped working; the new one works.
    let token = world.challenge().await;
    let old = world
        .verify(
            &token,
            SecondFactorProof::RecoveryCode(old_codes[0].display()),
        )
        .await;
    assert_matches!(old, Err(MfaVerifyError::InvalidCode));
    world
        .verify(&token, SecondFactorProof::RecoveryCode(fresh[0].display()))
        .await
        .unwrap();
}

#[tokio::test]
async fn disabling_needs_password_and_code_and_ends_the_other_sessions() {
    let world = world();
    let (user, secret, _) = world.enrolled().await;
    world.clock.advance(Duration::seconds(30));
    let token = world.challenge().await;
    let pair = world
        .verify(
            &token,
            SecondFactorProof::Code(StepCodes::code_at(&secret, world.now())),
        )
        .await
        .unwrap();
    let caller = world.authenticate(&pair).await;
    world.clock.advance(Duration::seconds(30));
    let code = StepCodes::code_at(&secret, world.now());
    let wrong = world
        .service
        .factors
        .disable_totp(
            &caller,
            &PasswordAttempt::new(PASSWORD.to_owned()),
            "999999",
            &client(),
        )
        .await;
    assert_matches!(wrong, Err(MfaError::InvalidCode));
    world
        .service
        .factors
        .disable_totp(
            &caller,
            &PasswordAttempt::new(PASSWORD.to_owned()),
            &code,
            &client(),
        )
        .await
        .unwrap();
    // The first session (from enrolment) ended; the caller's goes on.
    let sessions = world.store.sessions();
    assert!(sessions[0].revoked_at.is_some());
    assert!(
        world
            .service
            .sign_in
            .authenticate(&pair.access_token)
            .await
            .is_ok()
    );
    assert_eq!(world.store.unused_recovery_codes(user.id()), 0);
    // The password alone logs in again.
    assert_matches!(world.login().await, Ok(LoginOutcome::SignedIn(_)));
}

#[tokio::test]
async fn a_password_reset_keeps_the_factor() {
    let world = world();
    world.enrolled().await;
    world.reset_password_to(PASSWORD).await;
    assert_matches!(
        world.login().await,
        Ok(LoginOutcome::SecondFactorRequired(_))
    );
}

#[tokio::test]
async fn rotating_client_addresses_buys_no_more_guesses_at_the_code() {
    let world = world();
    let (_, secret, _) = world.enrolled().await;
    world.clock.advance(Duration::seconds(30));
    let token = world.challenge().await;
    let from = |n: u8| ClientInfo::new(Some(IpAddr::from([203, 0, 113, n])), None);
    // Five wrong codes, each from another address (and each a fresh challenge's worth).
    for n in 1..=5 {
        let token = if n == 1 {
            token.clone()
        } else {
            world.challenge().await
        };
        let wrong = world
            .service
            .sign_in
            .verify_second_factor(
                &token,
                SecondFactorProof::Code("999999".to_owned()),
                from(n),
            )
            .await;
        assert_matches!(wrong, Err(MfaVerifyError::InvalidCode));
    }
    // The account's budget is spent for every address, even with the right code.
    let fresh = world.challenge().await;
    let right = StepCodes::code_at(&secret, world.now());
    let throttled = world
        .service
        .sign_in
        .verify_second_factor(&fresh, SecondFactorProof::Code(right), from(9))
        .await;
    assert_matches!(throttled, Err(MfaVerifyError::Throttled { .. }));
}

#[tokio::test]
async fn a_password_reset_ends_the_logins_waiting_for_their_second_factor() {
    let world = world();
    let (_, secret, _) = world.enrolled().await;
    world.clock.advance(Duration::seconds(30));
    // Someone with the old password is waiting at the code step…
    let waiting = world.challenge().await;
    // …when the owner resets the password.
    world.reset_password_to("Another123").await;
    let late = world
        .verify(
            &waiting,
            SecondFactorProof::Code(StepCodes::code_at(&secret, world.now())),
        )
        .await;
    assert_matches!(late, Err(MfaVerifyError::InvalidChallenge));
}

#[test]
fn proofs_never_print_their_codes() {
    let proof = SecondFactorProof::RecoveryCode("abcd-efgh".to_owned());
    assert_eq!(format!("{proof:?}"), "RecoveryCode(***)");
}

#[tokio::test]
async fn a_login_that_upgrades_the_password_hash_keeps_its_challenge() {
    // A new hash ends open challenges; the upgrade must come before the login's own.
    let world = world_hashing_with(Arc::new(AlwaysRehash));
    let (_, secret, _) = world.enrolled().await;
    let token = world.challenge().await;
    world.clock.advance(Duration::seconds(30));
    let code = StepCodes::code_at(&secret, world.now());
    let pair = world.verify(&token, SecondFactorProof::Code(code)).await;
    assert!(pair.is_ok(), "{pair:?}");
}

/// [`PlainHasher`], but while it makes a hash of `Secret123` (a login's upgrade), the
/// password is reset to `Elsewhere1` by another request that commits first.
struct ResetDuringUpgrade {
    store: std::sync::OnceLock<Arc<InMemoryStore>>,
}

#[async_trait::async_trait]
impl PasswordHasher for ResetDuringUpgrade {
    async fn hash(&self, secret: &str) -> Result<crate::PasswordHash, crate::ports::HashError> {
        if secret == PASSWORD
            && let Some(store) = self.store.get()
        {
            use crate::ports::{AccountStore, UserRepository};
            let user = store
                .find_by_email(&EmailAddress::parse(EMAIL).unwrap())
                .await
                .unwrap()
                .unwrap();
            let reset = crate::ports::Changes {
                update_user: Some(crate::ports::UserUpdate {
                    password_hash: Some(PlainHasher.hash("Elsewhere1").await?),
                    ..crate::ports::UserUpdate::of(user.id())
                }),
                ..crate::ports::Changes::default()
            };
            store.apply(reset, Utc::now()).await.unwrap();
        }
        PlainHasher.hash(secret).await
    }

    fn needs_rehash(&self, _hash: &crate::PasswordHash) -> bool {
        true
    }

    async fn verify<'a>(
        &self,
        attempt: &PasswordAttempt,
        hash: Option<&'a crate::PasswordHash>,
    ) -> Result<bool, crate::ports::HashError> {
        PlainHasher.verify(attempt, hash).await
    }
}

#[tokio::test]
async fn a_hash_upgrade_never_writes_the_old_password_over_a_reset_that_came_first() {
    let hasher = Arc::new(ResetDuringUpgrade {
        store: std::sync::OnceLock::new(),
    });
    let world = world_hashing_with(hasher.clone());
    world.register().await;
    let _ = hasher.store.set(world.store.clone());
    // The login checked the old password; the reset committed while it was rehashed.
    let login = world.login().await;
    assert_matches!(
        login,
        Err(LoginError::InvalidCredentials),
        "no session either"
    );
    let old = world.login().await;
    assert_matches!(
        old,
        Err(LoginError::InvalidCredentials),
        "the old password is gone"
    );
    let new = world
        .service
        .sign_in
        .login(LoginAttempt {
            email: EmailAddress::parse(EMAIL).unwrap(),
            password: PasswordAttempt::new("Elsewhere1".to_owned()),
            client: client(),
        })
        .await;
    assert!(new.is_ok(), "the reset's password stays: {new:?}");
}

/// The in-memory factor store, but each challenge is completed by another request just
/// before this one can (or, `failing`, the store fails right there).
struct LosingRace {
    inner: Arc<InMemoryStore>,
    failing: bool,
}

#[async_trait::async_trait]
impl MfaStore for LosingRace {
    async fn totp_factors(
        &self,
        user: crate::UserId,
    ) -> Result<Vec<crate::ports::TotpFactor>, crate::ports::MfaStoreError> {
        self.inner.totp_factors(user).await
    }

    async fn accept_totp_step(
        &self,
        factor: i64,
        step: u64,
    ) -> Result<bool, crate::ports::MfaStoreError> {
        self.inner.accept_totp_step(factor, step).await
    }

    async fn create_challenge(
        &self,
        user: crate::IssuedUnder,
        first: AuthMethod,
        fingerprint: &crate::TokenFingerprint,
        expires_at: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<(), crate::ports::MfaStoreError> {
        self.inner
            .create_challenge(user, first, fingerprint, expires_at, at)
            .await
    }

    async fn try_challenge(
        &self,
        fingerprint: &crate::TokenFingerprint,
        now: DateTime<Utc>,
        max_tries: u32,
    ) -> Result<Option<crate::ports::MfaChallenge>, crate::ports::MfaStoreError> {
        self.inner.try_challenge(fingerprint, now, max_tries).await
    }

    async fn complete_challenge(
        &self,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<bool, crate::ports::MfaStoreError> {
        if self.failing {
            return Err(crate::ports::MfaStoreError::Unavailable(anyhow::anyhow!(
                "connection lost"
            )));
        }
        // The other request wins.
        assert!(self.inner.complete_challenge(id, now).await?);
        self.inner.complete_challenge(id, now).await
    }

    async fn delete_expired_challenges(
        &self,
        before: DateTime<Utc>,
    ) -> Result<u64, crate::ports::MfaStoreError> {
        self.inner.delete_expired_challenges(before).await
    }
}

#[tokio::test]
async fn a_right_code_that_loses_the_race_to_complete_the_login_is_no_failed_guess() {
    for failing in [false, true] {
        let per_client = Arc::new(crate::test_support::CountingFailureCounter::new(50));
        let per_account = Arc::new(crate::test_support::CountingFailureCounter::new(5));
        let throttle = LoginThrottle {
            per_client: Some(per_client.clone()),
            per_account: Some(per_account.clone()),
        };
        let world = world_of(Arc::new(PlainHasher), throttle, |inner| {
            Arc::new(LosingRace { inner, failing })
        });
        let (_, secret, _) = world.enrolled().await;
        world.clock.advance(Duration::seconds(30));
        let token = world.challenge().await;
        let counted = (per_client.total(), per_account.total());
        let lost = world
            .verify(
                &token,
                SecondFactorProof::Code(StepCodes::code_at(&secret, world.now())),
            )
            .await;
        if failing {
            assert_matches!(lost, Err(MfaVerifyError::Unavailable(_)));
        } else {
            assert_matches!(lost, Err(MfaVerifyError::InvalidChallenge));
        }
        assert_eq!(
            (per_client.total(), per_account.total()),
            counted,
            "failing: {failing}: the attempt and the code try were given back"
        );
    }
}
