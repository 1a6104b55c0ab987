//! Signing in by email: a mail with a link and a six-digit code for one sign-in, asked
//! for with an answer that never tells whether the address has an account; the link's
//! page, whose `GET` only looks (mail scanners that open every link spend nothing) and
//! whose `POST` finishes into the same one-time exchange code as an outside provider's
//! sign-in; and the code, tried at most [`crate::MAX_CODE_TRIES`] times and counted by the
//! login throttle like a password. Either spends both. Following either proves the
//! mailbox: an unverified account becomes verified, and — that being the first proof of
//! its address — is taken back from whoever made it (its factors, passkeys, identities,
//! sessions and password go, as for a reset: `core/owner.rs`).

use tracing::{Span, instrument};

use super::{LoginOutcome, SignIn};
use crate::auth::core::SignInRefusal;
use crate::auth::core::throttle::{CodeTry, ThrottleKeys};
use crate::auth::{AccountError, LoginError};
use crate::ports::{
    AccountStoreError, Changes, FederationStoreError, MfaStoreError, NewFlow, RepositoryError,
    Revocation, SessionStoreError, UserUpdate,
};
use crate::{
    Assurance, AuditAction, AuditEvent, AuditUser, AuthMethod, ClientInfo, EXCHANGE_CODE_TTL,
    EmailAddress, EmailLoginKey, IssuedUnder, LoginCode, Mail, MailPurpose, NewEmailLogin, NewUser,
    OneTimeToken, PasswordHash, ProviderId, RevokeReason, StoredEmailLogin, User,
};

/// The provider id the exchange codes of sign-ins by email carry (no configured
/// provider may take it).
pub const EMAIL_PROVIDER: &str = "email";

failure_enum! {
    /// Why a step of signing in by email failed.
    pub enum EmailLoginError {
        /// `EMAIL_LOGIN_ENABLED` is off.
        #[error("sign-in by email is off")]
        Disabled,
        /// No mail can be sent.
        #[error("mail delivery is not configured")]
        MailDisabled,
        /// The return address is not on the allow-list.
        #[error("return_to is not allowed")]
        ReturnUrlNotAllowed,
        /// The link is unknown, used, replaced or expired, or its account changed since.
        #[error("invalid or expired link")]
        InvalidLink,
        /// A wrong, used, replaced or expired code (or one out of tries).
        #[error("invalid code")]
        InvalidCode,
        /// Too many failures from this client (for this account), as for logins.
        #[error("too many failed attempts")]
        Throttled {
            /// Time until the window ends.
            retry_after: std::time::Duration,
        },
    }
    /// A store cannot be reached.
    unavailable: "store unavailable";
}

crate::auth::errors::from_store_errors! {
    EmailLoginError: RepositoryError, SessionStoreError, MfaStoreError, FederationStoreError;
}

impl From<AccountStoreError> for EmailLoginError {
    fn from(error: AccountStoreError) -> Self {
        match error {
            AccountStoreError::Unavailable(source) => Self::Unavailable(source),
            AccountStoreError::Unexpected(source) => Self::Unexpected(source),
            other => Self::Unexpected(anyhow::anyhow!(other)),
        }
    }
}

impl From<LoginError> for EmailLoginError {
    fn from(error: LoginError) -> Self {
        match error {
            LoginError::Unavailable(source) => Self::Unavailable(source),
            other => Self::Unexpected(anyhow::anyhow!(other)),
        }
    }
}

/// Where the link's page sends the browser.
#[derive(Debug)]
pub enum EmailLinkLanding {
    /// To `return_to?code=…`: the front end exchanges the code (bound to this browser by
    /// the `browser` secret, set as the flow cookie) at `/oauth/exchange`.
    Exchange {
        /// The front end's address (on the allow-list).
        return_to: String,
        /// The one-time exchange code.
        code: OneTimeToken,
        /// The browser's secret (its cookie).
        browser: OneTimeToken,
    },
    /// No front end to return to (none asked for, none allowed): signed in here.
    SignedIn(LoginOutcome),
}

impl SignIn {
    /// Mails a sign-in link and code to `email`'s account, if it is active (or, when
    /// accounts may be created this way, to an unknown address), unless the per-recipient
    /// limit holds it back. Succeeds alike in every case, after the same work.
    ///
    /// # Errors
    /// [`EmailLoginError::Disabled`], [`EmailLoginError::MailDisabled`],
    /// [`EmailLoginError::ReturnUrlNotAllowed`]; store failures.
    #[instrument(skip_all)]
    pub async fn request_email_login(
        &self,
        email: &EmailAddress,
        return_to: Option<&str>,
    ) -> Result<(), EmailLoginError> {
        let core = &self.core;
        let policy = core.lifecycle.email_login;
        if !policy.enabled {
            return Err(EmailLoginError::Disabled);
        }
        core.require_mail(EmailLoginError::MailDisabled)?;
        let return_to = match return_to {
            Some(raw) => Some(
                self.federation
                    .return_urls
                    .allow(raw)
                    .ok_or(EmailLoginError::ReturnUrlNotAllowed)?,
            ),
            None => None,
        };
        let now = core.now();
        let user = core.users.find_by_email(email).await?;
        let owner = match &user {
            Some(user) if user.is_active() => Some(Some(IssuedUnder::now(user))),
            Some(_) => None,
            None if policy.creates_accounts => Some(None),
            None => None,
        };
        let mut changes = Changes {
            // The account's row is locked while the mail replaces its older ones, so that
            // of two requests at once the later leaves one usable mail; and a credential
            // event that commits first ends this request's mail before it is stored.
            issued_under: owner.flatten(),
            ..Changes::default()
        };
        let mailed = match owner {
            Some(owner) if core.may_mail(email, MailPurpose::EmailLogin).await => {
                let (token, code) = NewEmailLogin::secrets();
                let fingerprint = token.fingerprint();
                changes.issue_email_login = Some(NewEmailLogin {
                    email: email.clone(),
                    owner,
                    code: code.fingerprint(&fingerprint),
                    token: fingerprint,
                    return_to,
                    expires_at: now + policy.ttl,
                });
                changes.mails.push(Mail {
                    code: Some(code.expose().to_owned()),
                    ..Mail::with_link(
                        email.clone(),
                        MailPurpose::EmailLogin,
                        crate::LinkTemplates::fill(
                            &core.lifecycle.links.email_login,
                            token.expose(),
                        ),
                    )
                });
                true
            }
            _ => false,
        };
        if let Some(user) = user.filter(User::is_active) {
            changes.audit.push(
                AuditEvent::new(AuditAction::EmailLoginRequested)
                    .on(AuditUser::User(user.id()))
                    .with("mailed", mailed),
            );
        }
        // With nothing to send the same transaction still runs, empty, so that the work
        // (and its time) does not tell the cases apart.
        match core.accounts.apply(changes, now).await {
            // The account's credentials changed meanwhile: no mail under the old ones.
            Ok(_) | Err(AccountStoreError::StampMoved) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    /// The address the link token `raw` would sign in now, if it would, without using it
    /// (the link's page `GET`, which names it, so that nobody signs in to an account that
    /// is not theirs unawares).
    ///
    /// # Errors
    /// [`EmailLoginError::Disabled`]; store failures.
    pub async fn email_link_address(&self, raw: &str) -> Result<Option<String>, EmailLoginError> {
        match self.usable_link(raw).await {
            Ok(stored) => Ok(Some(stored.email)),
            Err(EmailLoginError::InvalidLink) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Finishes a sign-in by the link (the page's `POST`): the mail is spent, the address
    /// verified, and an exchange code issued for the front end — or, with no front end to
    /// return to, the session opened here. An account with a second factor still needs it.
    ///
    /// # Errors
    /// [`EmailLoginError::InvalidLink`] for a link that is unknown, used, replaced or
    /// expired, or whose account changed its credentials or was deactivated since; store
    /// failures.
    #[instrument(skip_all, fields(user_id = tracing::field::Empty))]
    pub async fn finish_email_link(
        &self,
        raw: &str,
        client: ClientInfo,
    ) -> Result<EmailLinkLanding, EmailLoginError> {
        let core = &self.core;
        let stored = self.usable_link(raw).await?;
        let return_to = stored
            .return_to
            .clone()
            .or_else(|| self.federation.return_urls.first());
        let user = self
            .spend(stored)
            .await?
            .ok_or(EmailLoginError::InvalidLink)?;
        Span::current().record("user_id", user.id().get());
        let Some(return_to) = return_to else {
            return self
                .open_email_session(&user, client)
                .await
                .map(EmailLinkLanding::SignedIn);
        };
        let now = core.now();
        let state = OneTimeToken::generate();
        let browser = OneTimeToken::generate();
        let provider = ProviderId::parse(EMAIL_PROVIDER)
            .ok_or_else(|| EmailLoginError::Unexpected(anyhow::anyhow!("provider id")))?;
        core.federation
            .start_flow(NewFlow {
                state: state.fingerprint(),
                browser: browser.fingerprint(),
                provider,
                return_to: return_to.clone(),
                client_challenge: None,
                link: None,
                expires_at: now + EXCHANGE_CODE_TTL,
            })
            .await?;
        let flow = core
            .federation
            .take_flow(&state.fingerprint(), now)
            .await?
            .ok_or_else(|| EmailLoginError::Unexpected(anyhow::anyhow!("flow not stored")))?;
        let code = OneTimeToken::generate();
        core.federation
            .issue_code(
                flow.id,
                &code.fingerprint(),
                IssuedUnder::now(&user),
                now + EXCHANGE_CODE_TTL,
            )
            .await?;
        tracing::info!("sign-in link followed");
        Ok(EmailLinkLanding::Exchange {
            return_to,
            code,
            browser,
        })
    }

    /// Signs in with a sign-in mail's link token, for a front end that took the link over
    /// (`EMAIL_LOGIN_URL`): the SPEC's pair, or a second-factor challenge. Spends the mail
    /// and verifies the address, as the link's own page does.
    ///
    /// # Errors
    /// [`EmailLoginError::InvalidLink`] as for [`Self::finish_email_link`]; store failures.
    #[instrument(skip_all, fields(user_id = tracing::field::Empty))]
    pub async fn confirm_email_link(
        &self,
        raw: &str,
        client: ClientInfo,
    ) -> Result<LoginOutcome, EmailLoginError> {
        let stored = self.usable_link(raw).await?;
        let user = self
            .spend(stored)
            .await?
            .ok_or(EmailLoginError::InvalidLink)?;
        Span::current().record("user_id", user.id().get());
        self.open_email_session(&user, client).await
    }

    /// Signs in with the code of the newest sign-in mail to `email`: the SPEC's pair, or a
    /// second-factor challenge exactly as a password login answers.
    ///
    /// # Errors
    /// [`EmailLoginError::InvalidCode`] for a wrong, used, replaced or expired code, or an
    /// address with no sign-in mail (each a failed login for the throttle);
    /// [`EmailLoginError::Throttled`]; [`EmailLoginError::Disabled`]; store failures.
    #[instrument(skip_all, fields(user_id = tracing::field::Empty))]
    pub async fn verify_email_code(
        &self,
        email: &EmailAddress,
        raw_code: &str,
        client: ClientInfo,
    ) -> Result<LoginOutcome, EmailLoginError> {
        let core = &self.core;
        if !core.lifecycle.email_login.enabled {
            return Err(EmailLoginError::Disabled);
        }
        let attempt = match core.begin_attempt(ThrottleKeys::of(&client, email)).await {
            Ok(attempt) => attempt,
            Err(full) => {
                tracing::info!("code sign-in throttled");
                core.count_throttled(&full, email).await;
                return Err(EmailLoginError::Throttled {
                    retry_after: full.retry_after,
                });
            }
        };
        let now = core.now();
        let stored = core
            .accounts
            .find_email_login(EmailLoginKey::Email(email.key().to_owned()))
            .await?
            .filter(|stored| stored.is_usable(now));
        let Some(stored) = stored else {
            tracing::info!("code sign-in refused: no sign-in mail");
            attempt.failed();
            return Err(EmailLoginError::InvalidCode);
        };
        // The account's budget of codes, whatever the client (as for second factors), so
        // that many addresses buy no more guesses.
        let code_try = match stored.owner {
            Some(owner) => match core.begin_code_try(owner.user).await {
                Ok(code_try) => code_try,
                Err(retry_after) => {
                    attempt.inconclusive().await;
                    return Err(EmailLoginError::Throttled { retry_after });
                }
            },
            None => CodeTry::of_no_account(),
        };
        // One of the mail's tries, reserved before the code is compared: concurrent
        // guesses cannot outrun the count.
        let reserved = core.accounts.reserve_code_try(stored.id, now).await;
        let right = LoginCode::parse(raw_code).is_some_and(|code| stored.has_code(&code));
        if !matches!(reserved, Ok(true)) || !right {
            if let Err(error) = reserved {
                attempt.inconclusive().await;
                code_try.inconclusive().await;
                return Err(error.into());
            }
            if let Some(owner) = stored.owner {
                core.audit
                    .record(
                        AuditEvent::new(AuditAction::LoginFailed)
                            .on(AuditUser::User(owner.user))
                            .with("reason", "wrong_code")
                            .with("method", AuthMethod::Email.as_str()),
                    )
                    .await;
            }
            tracing::info!("code sign-in refused");
            attempt.failed();
            code_try.failed();
            return Err(EmailLoginError::InvalidCode);
        }
        let user = match self.spend(stored).await {
            Ok(Some(user)) => user,
            Ok(None) | Err(EmailLoginError::InvalidLink) => {
                attempt.failed();
                code_try.inconclusive().await;
                return Err(EmailLoginError::InvalidCode);
            }
            Err(error) => {
                attempt.inconclusive().await;
                code_try.inconclusive().await;
                return Err(error);
            }
        };
        code_try.succeeded().await;
        Span::current().record("user_id", user.id().get());
        match self.open_email_session(&user, client).await {
            Ok(outcome) => {
                attempt.succeeded().await;
                Ok(outcome)
            }
            // The credentials changed between the code and the session.
            Err(EmailLoginError::InvalidLink) => {
                attempt.inconclusive().await;
                Err(EmailLoginError::InvalidCode)
            }
            Err(error) => {
                attempt.inconclusive().await;
                Err(error)
            }
        }
    }

    /// A session for `user`, who just proved their mailbox — or a second-factor challenge
    /// whose first half is `email`.
    async fn open_email_session(
        &self,
        user: &User,
        client: ClientInfo,
    ) -> Result<LoginOutcome, EmailLoginError> {
        let core = &self.core;
        if let Some(challenge) = self
            .open_challenge::<EmailLoginError>(user, IssuedUnder::now(user), AuthMethod::Email)
            .await?
        {
            tracing::info!("sign-in by email: second factor required");
            return Ok(LoginOutcome::SecondFactorRequired(challenge));
        }
        let pair = core
            .start_session(
                user,
                user.security_stamp(),
                client,
                Assurance::of([AuthMethod::Email]),
            )
            .await
            .map_err(|error| match error {
                LoginError::InvalidCredentials => EmailLoginError::InvalidLink,
                other => other.into(),
            })?;
        tracing::info!("signed in by email");
        Ok(LoginOutcome::SignedIn(pair))
    }

    /// The usable sign-in mail of link token `raw`.
    async fn usable_link(&self, raw: &str) -> Result<StoredEmailLogin, EmailLoginError> {
        let core = &self.core;
        if !core.lifecycle.email_login.enabled {
            return Err(EmailLoginError::Disabled);
        }
        let token = OneTimeToken::parse(raw).ok_or(EmailLoginError::InvalidLink)?;
        core.accounts
            .find_email_login(EmailLoginKey::Token(token.fingerprint()))
            .await?
            .filter(|stored| stored.is_usable(core.now()))
            .ok_or(EmailLoginError::InvalidLink)
    }

    /// Spends `stored` for its account — made now when it may be — and verifies the
    /// address; the account as it is afterwards, or `None` when it may not sign in (gone,
    /// deactivated, its credentials changed since the mail).
    async fn spend(&self, stored: StoredEmailLogin) -> Result<Option<User>, EmailLoginError> {
        let core = &self.core;
        let now = core.now();
        let user = match stored.owner {
            Some(owner) => match core.holder(owner).await? {
                Some(user) => user,
                None => return Ok(None),
            },
            None => {
                let email = EmailAddress::parse(&stored.email)
                    .map_err(|_| EmailLoginError::Unexpected(anyhow::anyhow!("stored address")))?;
                // A mail that would have made the account: if an account has the address
                // now, its credentials came after the mail, which is no proof under them.
                return match core.users.find_by_email(&email).await? {
                    Some(_) => Ok(None),
                    None => self.sign_up(stored, email).await.map(Some),
                };
            }
        };
        if let Err(SignInRefusal::Inactive) = core.may_sign_in(&user) {
            core.record_failure(AuditUser::User(user.id()), SignInRefusal::Inactive.reason())
                .await;
            return Ok(None);
        }
        let mut changes = Changes {
            issued_under: Some(IssuedUnder::now(&user)),
            consume_email_login: Some(stored.id),
            ..Changes::default()
        };
        if !user.is_verified() {
            // The first proof of the address: whoever made the account loses it — its
            // password (which the owner of the mailbox never chose), sessions, factors,
            // passkeys and identities.
            changes.update_user = Some(UserUpdate {
                is_verified: Some(true),
                password_hash: user
                    .password_hash()
                    .is_usable()
                    .then(PasswordHash::unusable),
                ..UserUpdate::of(user.id())
            });
            changes.revoke_sessions = Some(Revocation {
                user: user.id(),
                keep: None,
                reason: RevokeReason::PasswordReset,
            });
            changes.audit.push(
                AuditEvent::own(AuditAction::EmailVerified, user.id()).with("method", "email"),
            );
            core.take_back(&user, &mut changes)
                .await
                .map_err(|error| match error {
                    AccountError::Unavailable(source) => EmailLoginError::Unavailable(source),
                    other => EmailLoginError::Unexpected(anyhow::anyhow!(other)),
                })?;
        }
        match core.accounts.apply(changes, now).await {
            Ok(applied) => Ok(Some(applied.user.unwrap_or(user))),
            Err(AccountStoreError::StampMoved | AccountStoreError::TokenUsed) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// A new, verified account for the address of `stored`, which spends it.
    async fn sign_up(
        &self,
        stored: StoredEmailLogin,
        email: EmailAddress,
    ) -> Result<User, EmailLoginError> {
        let core = &self.core;
        let now = core.now();
        let changes = Changes {
            consume_email_login: Some(stored.id),
            insert_user: Some(NewUser {
                email,
                password_hash: PasswordHash::unusable(),
                full_name: None,
                created_at: now,
                is_superuser: false,
                is_verified: true,
            }),
            audit: vec![
                AuditEvent::new(AuditAction::UserRegistered)
                    .by(AuditUser::Inserted)
                    .on(AuditUser::Inserted)
                    .with("method", "email"),
            ],
            ..Changes::default()
        };
        match core.apply_for_user(changes, now).await {
            Ok(user) => {
                tracing::info!(
                    user_id = user.id().get(),
                    "user registered by email sign-in"
                );
                Ok(user)
            }
            // Spent meanwhile, or the address registered meanwhile: this link is done.
            Err(AccountStoreError::TokenUsed | AccountStoreError::EmailTaken) => {
                Err(EmailLoginError::InvalidLink)
            }
            Err(error) => Err(error.into()),
        }
    }
}
