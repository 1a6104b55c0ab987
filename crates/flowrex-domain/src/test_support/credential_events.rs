//! The stamp rule ([`crate::stamp`]) as a table: every kind of thing issued to a user
//! ([`Issued`]: the mailed links, an invitation, a login's second-factor challenge, a
//! passkey registration ceremony, a sign-in mail's link and code) against every kind of credential event
//! ([`CredentialEvent`]), each case from scratch — issued, the event, then used — and
//! refused. Beside each kind runs a control case without an event, in which it is
//! honoured, so that the table fails when nothing is refused for the right reason. The
//! cases are generated from [`Issued::ALL`] × [`CredentialEvent::ALL`] (each `ALL` is
//! pinned to its enum by an exhaustive match), and run over any stores ([`Stores`]): the
//! in-memory fakes in this crate's tests, the sea-orm adapters on every database in the
//! infrastructure's.
//!
//! An invitation is for an account nobody has signed in to yet: only the events an
//! administrator causes can happen to it ([`CredentialEvent::needs_a_sign_in`]).

use std::sync::{Arc, Mutex};

use chrono::{Duration, SubsecRound, Utc};
use serde_json::json;

use super::{
    PlainHasher, PlainSealer, PlainTokens, SettableClock, StepCodes, TrustingRelyingParty,
};
use crate::ports::{Clock, MfaStore, OutboxStore, Sealer};
use crate::{
    AccountError, AdminNewUser, AdminUserChange, Authenticated, ClientInfo, CorePorts,
    EmailAddress, EmailLoginError, LoginAttempt, LoginOutcome, LogoutRequest, Mail, MailPurpose,
    MfaVerifyError, NewPassword, OneTimeToken, PasskeyError, PasswordAttempt, Policies,
    Registration, SecondFactorProof, ServicePorts, Services, TokenPair, User, UserId,
    VerificationRequest,
};

pub use super::contracts::Stores;

/// A kind of thing issued to a user under their stamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Issued {
    /// A verification link.
    VerifyLink,
    /// A password-reset link.
    ResetLink,
    /// An email-change link.
    EmailChangeLink,
    /// An administrator's invitation (a first-password link).
    Invitation,
    /// The challenge of a login waiting for its second factor (`mfa_token`).
    SecondFactorChallenge,
    /// A passkey registration ceremony.
    PasskeyCeremony,
    /// A sign-in mail's link (its page's `POST`).
    EmailLoginLink,
    /// A sign-in mail's code.
    EmailLoginCode,
}

impl Issued {
    /// Every kind.
    pub const ALL: [Self; 8] = [
        Self::VerifyLink,
        Self::ResetLink,
        Self::EmailChangeLink,
        Self::Invitation,
        Self::SecondFactorChallenge,
        Self::PasskeyCeremony,
        Self::EmailLoginLink,
        Self::EmailLoginCode,
    ];

    /// Fails to compile when a kind is added and not listed in [`Self::ALL`].
    const fn listed(self) -> usize {
        match self {
            Self::VerifyLink => 0,
            Self::ResetLink => 1,
            Self::EmailChangeLink => 2,
            Self::Invitation => 3,
            Self::SecondFactorChallenge => 4,
            Self::PasskeyCeremony => 5,
            Self::EmailLoginLink => 6,
            Self::EmailLoginCode => 7,
        }
    }
}

/// A kind of credential event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialEvent {
    /// The owner changed the password.
    PasswordChanged,
    /// The password was reset through a mailed link.
    PasswordReset,
    /// The address changed (confirmed from the new mailbox).
    AddressChanged,
    /// The owner logged out everywhere.
    LoggedOutEverywhere,
    /// An administrator ended every session.
    SessionsEndedByAdmin,
    /// An administrator deactivated the account (and activated it again).
    Deactivated,
    /// The owner removed the TOTP factor.
    TotpRemoved,
    /// The owner removed a passkey.
    PasskeyRemoved,
    /// The first proof of the address took the account back.
    TakenBack,
}

impl CredentialEvent {
    /// Every kind.
    pub const ALL: [Self; 9] = [
        Self::PasswordChanged,
        Self::PasswordReset,
        Self::AddressChanged,
        Self::LoggedOutEverywhere,
        Self::SessionsEndedByAdmin,
        Self::Deactivated,
        Self::TotpRemoved,
        Self::PasskeyRemoved,
        Self::TakenBack,
    ];

    /// Fails to compile when a kind is added and not listed in [`Self::ALL`].
    const fn listed(self) -> usize {
        match self {
            Self::PasswordChanged => 0,
            Self::PasswordReset => 1,
            Self::AddressChanged => 2,
            Self::LoggedOutEverywhere => 3,
            Self::SessionsEndedByAdmin => 4,
            Self::Deactivated => 5,
            Self::TotpRemoved => 6,
            Self::PasskeyRemoved => 7,
            Self::TakenBack => 8,
        }
    }

    /// Whether only a user who has signed in can cause it (so that it cannot happen to an
    /// invited account).
    pub fn needs_a_sign_in(self) -> bool {
        !matches!(self, Self::SessionsEndedByAdmin | Self::Deactivated)
    }
}

/// One case's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Used as if nothing had happened.
    Honoured,
    /// Refused as dead (the use case's "invalid link / challenge / ceremony").
    Refused,
}

/// Runs the table over `stores`: the cases that did not end as they must (with what they
/// ended in); empty when the rule holds. Every case is counted in the second value.
pub async fn run(stores: &Stores) -> (Vec<String>, usize) {
    debug_assert!(Issued::ALL.iter().enumerate().all(|(i, k)| k.listed() == i));
    debug_assert!(
        CredentialEvent::ALL
            .iter()
            .enumerate()
            .all(|(i, e)| e.listed() == i)
    );
    let run = OneTimeToken::generate();
    let run_id = &run.expose()[..8];
    let mut failures = Vec::new();
    let mut cases = 0;
    for kind in Issued::ALL {
        let events = CredentialEvent::ALL
            .into_iter()
            .filter(|event| kind != Issued::Invitation || !event.needs_a_sign_in())
            .map(Some);
        for event in std::iter::once(None).chain(events) {
            cases += 1;
            let tag = format!("{run_id}-{cases}");
            let expected = match event {
                None => Outcome::Honoured,
                Some(_) => Outcome::Refused,
            };
            match Case::new(stores, &tag).play(kind, event).await {
                Ok(outcome) if outcome == expected => {}
                Ok(outcome) => failures.push(format!("{kind:?} after {event:?}: {outcome:?}")),
                Err(error) => failures.push(format!("{kind:?} after {event:?}: {error}")),
            }
        }
    }
    (failures, cases)
}

/// The account everything is issued to: signed in at `aal2` with a password, a TOTP
/// factor and a passkey.
struct Subject {
    id: UserId,
    email: String,
    password: String,
    secret: Vec<u8>,
    strong: TokenPair,
    passkey: i64,
}

/// What was issued, ready to be used.
enum Handle {
    Link(String),
    Challenge(String),
    Ceremony(String),
    EmailLink(String),
    EmailCode(String),
}

/// One case: a service over the stores, with its own clock and the mails it has read.
struct Case<'a> {
    services: Services,
    clock: Arc<SettableClock>,
    outbox: &'a Arc<dyn OutboxStore>,
    mfa: &'a Arc<dyn MfaStore>,
    mails: Mutex<Vec<Mail>>,
    tag: String,
}

type Step<T> = Result<T, String>;

fn step<E: std::fmt::Debug>(what: &str) -> impl FnOnce(E) -> String + '_ {
    move |error| format!("{what}: {error:?}")
}

fn client() -> ClientInfo {
    ClientInfo::new(Some(std::net::IpAddr::from([192, 0, 2, 44])), None)
}

impl<'a> Case<'a> {
    fn new(stores: &'a Stores, tag: &str) -> Self {
        let clock = Arc::new(SettableClock::new(Utc::now().trunc_subsecs(6)));
        let tokens = Arc::new(PlainTokens::default());
        let services = Services::new(
            ServicePorts {
                core: CorePorts {
                    users: stores.users.clone(),
                    sessions: stores.sessions.clone(),
                    accounts: stores.accounts.clone(),
                    factors: stores.factors.clone(),
                    passkeys: stores.passkeys.clone(),
                    federation: stores.federation.clone(),
                    hasher: Arc::new(PlainHasher),
                    issuer: tokens.clone(),
                    verifier: tokens,
                    clock: clock.clone(),
                    audit: stores.audit.clone(),
                },
                otp: Arc::new(StepCodes),
                sealer: Arc::new(PlainSealer),
                relying_party: Arc::new(TrustingRelyingParty),
                directory: stores.directory.clone(),
                providers: Arc::new(crate::test_support::ScriptedProviders::default()),
            },
            Policies {
                accounts: crate::AccountPolicy {
                    email_login: crate::EmailLoginPolicy {
                        enabled: true,
                        ..crate::EmailLoginPolicy::default()
                    },
                    ..crate::AccountPolicy::default()
                },
                ..Policies::default()
            },
        );
        Self {
            services,
            clock,
            outbox: &stores.outbox,
            mfa: &stores.factors,
            mails: Mutex::new(Vec::new()),
            tag: tag.to_owned(),
        }
    }

    async fn play(&self, kind: Issued, event: Option<CredentialEvent>) -> Step<Outcome> {
        let admin = self.admin().await?;
        let mut subject = self.subject().await?;
        let (handle, holder) = self.issue(kind, &admin, &subject).await?;
        if let Some(event) = event {
            match holder {
                Some(invited) => self.admin_event(event, &admin, invited).await?,
                None => self.event(event, &admin, &mut subject).await?,
            }
        }
        self.use_it(handle, &subject).await
    }

    fn address(&self, name: &str) -> String {
        format!("{name}-{}@example.com", self.tag)
    }

    fn email(raw: &str) -> Step<EmailAddress> {
        EmailAddress::parse(raw).map_err(step("address"))
    }

    fn password(raw: &str) -> Step<NewPassword> {
        NewPassword::parse(raw.to_owned()).map_err(step("password"))
    }

    /// The newest link of `purpose` mailed to `to`: its token.
    async fn link(&self, purpose: MailPurpose, to: &str) -> Step<String> {
        let due = self.clock.now() + Duration::days(1);
        let claimed = self
            .outbox
            .claim(1000, std::time::Duration::from_secs(3600), due)
            .await
            .map_err(step("outbox"))?;
        let mut mails = self
            .mails
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        mails.extend(claimed.into_iter().map(|queued| queued.mail));
        mails
            .iter()
            .rev()
            .filter(|mail| mail.purpose == purpose && mail.to.as_str().eq_ignore_ascii_case(to))
            .find_map(|mail| Some(mail.link.as_deref()?.rsplit_once("token=")?.1.to_owned()))
            .ok_or_else(|| format!("no {purpose:?} link to {to}"))
    }

    /// The newest sign-in mail to `to`: its link's token and its code.
    async fn email_login(&self, to: &str) -> Step<(String, String)> {
        let token = self.link(MailPurpose::EmailLogin, to).await?;
        let mails = self
            .mails
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let code = mails
            .iter()
            .rev()
            .filter(|mail| mail.purpose == MailPurpose::EmailLogin)
            .find_map(|mail| mail.code.clone())
            .ok_or_else(|| format!("no sign-in code to {to}"))?;
        Ok((token, code))
    }

    async fn caller(&self, pair: &TokenPair) -> Step<Authenticated> {
        self.services
            .sign_in
            .authenticate(&pair.access_token)
            .await
            .map_err(step("authenticate"))
    }

    /// The code of the next step (each accepted step is accepted once).
    fn next_code(&self, secret: &[u8]) -> String {
        self.clock.advance(Duration::seconds(31));
        StepCodes::code_at(secret, self.clock.now())
    }

    async fn admin(&self) -> Step<Authenticated> {
        let email = self.address("admin");
        let registration = Registration {
            email: Self::email(&email)?,
            password: Self::password("Admin1234")?,
            full_name: None,
        };
        self.services
            .admin
            .create_user(registration, true, true)
            .await
            .map_err(step("admin"))?;
        let pair = self
            .services
            .sign_in
            .login(LoginAttempt {
                email: Self::email(&email)?,
                password: PasswordAttempt::new("Admin1234".to_owned()),
                client: client(),
            })
            .await
            .map_err(step("admin login"))?
            .into_pair()
            .ok_or("the admin has no second factor")?;
        self.caller(&pair).await
    }

    /// A password login of the subject, completed with a code when it has a factor.
    async fn sign_in(&self, subject: &Subject) -> Step<TokenPair> {
        let attempt = LoginAttempt {
            email: Self::email(&subject.email)?,
            password: PasswordAttempt::new(subject.password.clone()),
            client: client(),
        };
        match self.services.sign_in.login(attempt).await {
            Ok(LoginOutcome::SignedIn(pair)) => Ok(pair),
            Ok(LoginOutcome::SecondFactorRequired(required)) => self
                .services
                .sign_in
                .verify_second_factor(
                    required.token.expose(),
                    SecondFactorProof::Code(self.next_code(&subject.secret)),
                    client(),
                )
                .await
                .map_err(step("second factor")),
            Err(error) => Err(format!("sign in: {error:?}")),
        }
    }

    /// Registers, verifies, enrols TOTP, signs in at `aal2` and adds a passkey.
    async fn subject(&self) -> Step<Subject> {
        let email = self.address("subject");
        let password = "Secret123".to_owned();
        let user: User = self
            .services
            .accounts
            .register(Registration {
                email: Self::email(&email)?,
                password: Self::password(&password)?,
                full_name: None,
            })
            .await
            .map_err(step("register"))?;
        let token = self.link(MailPurpose::VerifyEmail, &email).await?;
        self.services
            .accounts
            .confirm_verification(&token)
            .await
            .map_err(step("verify"))?;
        let mut subject = Subject {
            id: user.id(),
            email,
            password,
            secret: Vec::new(),
            strong: self.sign_in_plain(&user, "Secret123").await?,
            passkey: 0,
        };
        let weak = self.caller(&subject.strong).await?;
        let current = PasswordAttempt::new(subject.password.clone());
        self.services
            .factors
            .enroll_totp(&weak, &current, &client())
            .await
            .map_err(step("enrol"))?;
        let factors = self
            .mfa
            .totp_factors(user.id())
            .await
            .map_err(step("factors"))?;
        let pending = factors.last().ok_or("no pending factor")?;
        subject.secret = PlainSealer.open(&pending.secret).map_err(step("open"))?;
        let code = self.next_code(&subject.secret);
        self.services
            .factors
            .activate_totp(&weak, &code)
            .await
            .map_err(step("activate"))?;
        subject.strong = self.sign_in(&subject).await?;
        let strong = self.caller(&subject.strong).await?;
        let ceremony = self
            .services
            .factors
            .start_passkey_registration(&strong, None, &client())
            .await
            .map_err(step("passkey start"))?;
        subject.passkey = self
            .services
            .factors
            .finish_passkey_registration(
                &strong,
                ceremony.ceremony_id.expose(),
                &json!({ "id": format!("credential-{}", self.tag) }),
                None,
            )
            .await
            .map_err(step("passkey finish"))?
            .id;
        Ok(subject)
    }

    async fn sign_in_plain(&self, user: &User, password: &str) -> Step<TokenPair> {
        self.services
            .sign_in
            .login(LoginAttempt {
                email: user.email().clone(),
                password: PasswordAttempt::new(password.to_owned()),
                client: client(),
            })
            .await
            .map_err(step("login"))?
            .into_pair()
            .ok_or_else(|| "no second factor yet".to_owned())
    }

    /// Issues `kind`: the handle, and the invited user when it went to one.
    async fn issue(
        &self,
        kind: Issued,
        admin: &Authenticated,
        subject: &Subject,
    ) -> Step<(Handle, Option<UserId>)> {
        let strong = self.caller(&subject.strong).await?;
        let current = PasswordAttempt::new(subject.password.clone());
        let handle = match kind {
            Issued::VerifyLink => {
                self.set_flags(admin, subject.id, None, Some(false)).await?;
                let email = Self::email(&subject.email)?;
                self.services
                    .accounts
                    .request_verification(VerificationRequest::Email(email))
                    .await
                    .map_err(step("request verification"))?;
                Handle::Link(self.link(MailPurpose::VerifyEmail, &subject.email).await?)
            }
            Issued::ResetLink => {
                self.services
                    .accounts
                    .forgot_password(&Self::email(&subject.email)?)
                    .await
                    .map_err(step("forgot"))?;
                Handle::Link(
                    self.link(MailPurpose::ResetPassword, &subject.email)
                        .await?,
                )
            }
            Issued::EmailChangeLink => {
                let to = self.address("moved");
                self.services
                    .accounts
                    .request_email_change(&strong, Self::email(&to)?, &current, &client())
                    .await
                    .map_err(step("request change"))?;
                Handle::Link(self.link(MailPurpose::ConfirmEmailChange, &to).await?)
            }
            Issued::Invitation => {
                let to = self.address("invited");
                let invited = self
                    .services
                    .admin
                    .admin_create_user(
                        admin,
                        AdminNewUser {
                            email: Self::email(&to)?,
                            password: None,
                            full_name: None,
                            is_verified: false,
                            is_superuser: false,
                        },
                    )
                    .await
                    .map_err(step("invite"))?;
                let token = self.link(MailPurpose::Invitation, &to).await?;
                return Ok((Handle::Link(token), Some(invited.id())));
            }
            Issued::SecondFactorChallenge => {
                let attempt = LoginAttempt {
                    email: Self::email(&subject.email)?,
                    password: current,
                    client: client(),
                };
                match self.services.sign_in.login(attempt).await {
                    Ok(LoginOutcome::SecondFactorRequired(required)) => {
                        Handle::Challenge(required.token.expose().to_owned())
                    }
                    other => return Err(format!("expected a challenge: {other:?}")),
                }
            }
            Issued::PasskeyCeremony => {
                let ceremony = self
                    .services
                    .factors
                    .start_passkey_registration(&strong, None, &client())
                    .await
                    .map_err(step("passkey start"))?;
                Handle::Ceremony(ceremony.ceremony_id.expose().to_owned())
            }
            Issued::EmailLoginLink | Issued::EmailLoginCode => {
                self.services
                    .sign_in
                    .request_email_login(&Self::email(&subject.email)?, None)
                    .await
                    .map_err(step("email login"))?;
                let (token, code) = self.email_login(&subject.email).await?;
                if kind == Issued::EmailLoginLink {
                    Handle::EmailLink(token)
                } else {
                    Handle::EmailCode(code)
                }
            }
        };
        Ok((handle, None))
    }

    /// Sets the subject's `is_active` and `is_verified` as an administrator.
    async fn set_flags(
        &self,
        admin: &Authenticated,
        id: UserId,
        active: Option<bool>,
        verified: Option<bool>,
    ) -> Step<()> {
        let change = AdminUserChange {
            is_active: active,
            is_verified: verified,
            ..AdminUserChange::default()
        };
        self.services
            .admin
            .admin_update_user(admin, id, change)
            .await
            .map(|_| ())
            .map_err(step("admin change"))
    }

    /// An event an administrator causes to `id`.
    async fn admin_event(
        &self,
        event: CredentialEvent,
        admin: &Authenticated,
        id: UserId,
    ) -> Step<()> {
        match event {
            CredentialEvent::SessionsEndedByAdmin => self
                .services
                .admin
                .admin_revoke_sessions(admin, id)
                .await
                .map(|_| ())
                .map_err(step("end sessions")),
            CredentialEvent::Deactivated => {
                self.set_flags(admin, id, Some(false), None).await?;
                self.set_flags(admin, id, Some(true), None).await
            }
            other => Err(format!("{other:?} is not an administrator's")),
        }
    }

    async fn event(
        &self,
        event: CredentialEvent,
        admin: &Authenticated,
        subject: &mut Subject,
    ) -> Step<()> {
        let strong = self.caller(&subject.strong).await?;
        let current = PasswordAttempt::new(subject.password.clone());
        let changed = "Changed123";
        match event {
            CredentialEvent::PasswordChanged => {
                self.services
                    .accounts
                    .change_password(&strong, &current, Self::password(changed)?, &client())
                    .await
                    .map_err(step("change password"))?;
                subject.password = changed.to_owned();
            }
            CredentialEvent::PasswordReset => {
                self.services
                    .accounts
                    .forgot_password(&Self::email(&subject.email)?)
                    .await
                    .map_err(step("forgot"))?;
                let token = self
                    .link(MailPurpose::ResetPassword, &subject.email)
                    .await?;
                self.services
                    .accounts
                    .reset_password(&token, Self::password(changed)?)
                    .await
                    .map_err(step("reset"))?;
                subject.password = changed.to_owned();
            }
            CredentialEvent::AddressChanged => {
                let to = self.address("elsewhere");
                self.services
                    .accounts
                    .request_email_change(&strong, Self::email(&to)?, &current, &client())
                    .await
                    .map_err(step("request change"))?;
                let token = self.link(MailPurpose::ConfirmEmailChange, &to).await?;
                self.services
                    .accounts
                    .confirm_email_change(&token)
                    .await
                    .map_err(step("confirm change"))?;
                subject.email = to;
            }
            CredentialEvent::LoggedOutEverywhere => {
                let request = LogoutRequest {
                    access_token: Some(&subject.strong.access_token),
                    refresh_token: None,
                    everywhere: true,
                };
                self.services
                    .sign_in
                    .logout(request)
                    .await
                    .map_err(step("logout"))?;
            }
            CredentialEvent::SessionsEndedByAdmin | CredentialEvent::Deactivated => {
                self.admin_event(event, admin, subject.id).await?;
            }
            CredentialEvent::TotpRemoved => {
                let code = self.next_code(&subject.secret);
                self.services
                    .factors
                    .disable_totp(&strong, &current, &code, &client())
                    .await
                    .map_err(step("disable"))?;
                subject.secret.clear();
            }
            CredentialEvent::PasskeyRemoved => {
                self.services
                    .factors
                    .delete_passkey(&strong, subject.passkey)
                    .await
                    .map_err(step("remove passkey"))?;
            }
            CredentialEvent::TakenBack => {
                self.set_flags(admin, subject.id, None, Some(false)).await?;
                let email = Self::email(&subject.email)?;
                self.services
                    .accounts
                    .request_verification(VerificationRequest::Email(email))
                    .await
                    .map_err(step("request verification"))?;
                let token = self.link(MailPurpose::VerifyEmail, &subject.email).await?;
                self.services
                    .accounts
                    .confirm_verification(&token)
                    .await
                    .map_err(step("confirm verification"))?;
                // The factor and the passkey are gone with the account taken back.
                subject.secret.clear();
            }
        }
        Ok(())
    }

    /// Uses what was issued: honoured, or refused as dead.
    async fn use_it(&self, handle: Handle, subject: &Subject) -> Step<Outcome> {
        match handle {
            Handle::Link(token) => {
                // Each link is tried where it works: only one purpose can match a token.
                let verified = self.services.accounts.confirm_verification(&token).await;
                let reset = self
                    .services
                    .accounts
                    .reset_password(&token, Self::password("Other1234")?)
                    .await;
                let moved = self.services.accounts.confirm_email_change(&token).await;
                let results = [verified.map(|_| ()), reset, moved.map(|_| ())];
                if results.iter().any(Result::is_ok) {
                    return Ok(Outcome::Honoured);
                }
                match results
                    .into_iter()
                    .find(|r| !matches!(r, Err(AccountError::InvalidToken)))
                {
                    None => Ok(Outcome::Refused),
                    Some(other) => Err(format!("link: {other:?}")),
                }
            }
            Handle::Challenge(token) => {
                let code = self.next_code(&subject.secret);
                match self
                    .services
                    .sign_in
                    .verify_second_factor(&token, SecondFactorProof::Code(code), client())
                    .await
                {
                    Ok(_) => Ok(Outcome::Honoured),
                    Err(MfaVerifyError::InvalidChallenge) => Ok(Outcome::Refused),
                    Err(other) => Err(format!("challenge: {other:?}")),
                }
            }
            Handle::Ceremony(id) => {
                let fresh = self.sign_in(subject).await?;
                let caller = self.caller(&fresh).await?;
                match self
                    .services
                    .factors
                    .finish_passkey_registration(
                        &caller,
                        &id,
                        &json!({ "id": format!("second-{}", self.tag) }),
                        None,
                    )
                    .await
                {
                    Ok(_) => Ok(Outcome::Honoured),
                    Err(PasskeyError::InvalidCeremony) => Ok(Outcome::Refused),
                    Err(other) => Err(format!("ceremony: {other:?}")),
                }
            }
            Handle::EmailLink(token) => {
                match self
                    .services
                    .sign_in
                    .finish_email_link(&token, client())
                    .await
                {
                    Ok(_) => Ok(Outcome::Honoured),
                    Err(EmailLoginError::InvalidLink) => Ok(Outcome::Refused),
                    Err(other) => Err(format!("email link: {other:?}")),
                }
            }
            Handle::EmailCode(code) => {
                let email = Self::email(&subject.email)?;
                match self
                    .services
                    .sign_in
                    .verify_email_code(&email, &code, client())
                    .await
                {
                    Ok(_) => Ok(Outcome::Honoured),
                    Err(EmailLoginError::InvalidCode) => Ok(Outcome::Refused),
                    Err(other) => Err(format!("email code: {other:?}")),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::InMemoryStore;

    #[tokio::test]
    async fn everything_issued_dies_with_every_credential_event_on_the_fakes() {
        let store = Arc::new(InMemoryStore::default());
        let stores = Stores {
            users: store.clone(),
            sessions: store.clone(),
            accounts: store.clone(),
            factors: store.clone(),
            passkeys: store.clone(),
            federation: store.clone(),
            outbox: store.clone(),
            audit: store.clone(),
            directory: store,
        };
        let (failures, cases) = run(&stores).await;
        assert_eq!(cases, 8 + 7 * 9 + 2, "a control and every event per kind");
        assert!(failures.is_empty(), "{failures:#?}");
    }
}
