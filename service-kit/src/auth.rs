//! Bearer-token authentication: HS256 JWTs signed with the shared secret, and RS256/ES256 access
//! tokens from the operator's OpenID Connect provider ([`provider`]).
//!
//! [`TokenKeys`] is built once at start-up and placed in the app data; the extractors
//! [`Instructor`], [`Student`] and [`Service`] read it, verify the token and check the role before a
//! handler runs. The token's header decides which keys may verify it, before any key is used: HS256
//! only the shared secret, RS256 and ES256 only the provider's published keys (so a token signed
//! with HMAC over a provider's public key is just a bad HS256 signature); `alg: none` and every
//! other algorithm are refused. Service tokens come from the shared secret only, must name this
//! service as audience and live at most [`MAX_SERVICE_TOKEN_LIFETIME_SECS`]. The secret never
//! appears in `Debug` output or logs.

pub mod provider;

use crate::{problem::problem_response, token_cache::VerifiedTokens};
use actix_web::{
    FromRequest, HttpRequest, HttpResponse, ResponseError, dev::Payload, http::StatusCode, web,
};
use futures::future::{Either, LocalBoxFuture};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use provider::Provider;
use secrecy::{ExposeSecret, SecretString};
use shared_types::{Claims, ErrorCode, Role, SERVICE_AUDIENCE};
use std::{
    fmt,
    future::{Ready, ready},
    marker::PhantomData,
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};

/// The shortest secret accepted: HS256 with fewer than 32 bytes of key is guessable.
pub const MIN_SECRET_LEN: usize = 32;

/// How far in the future a token's `nbf` or `iat` may lie (clocks differ a little).
pub const CLOCK_LEEWAY_SECS: i64 = 60;

/// The longest lifetime a `service` token may have.
pub const MAX_SERVICE_TOKEN_LIFETIME_SECS: i64 = 300;

/// Why a request was not authenticated or not authorized.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("missing bearer token")]
    Missing,
    #[error("invalid bearer token: {0}")]
    Invalid(&'static str),
    #[error("this endpoint needs the `{0}` role")]
    WrongRole(Role),
    #[error("authentication is not configured")]
    NotConfigured,
}

impl ResponseError for AuthError {
    fn status_code(&self) -> StatusCode {
        match self {
            AuthError::Missing | AuthError::Invalid(_) => StatusCode::UNAUTHORIZED,
            AuthError::WrongRole(_) => StatusCode::FORBIDDEN,
            AuthError::NotConfigured => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            AuthError::Missing | AuthError::Invalid(_) => {
                let mut response = problem_response(
                    StatusCode::UNAUTHORIZED,
                    ErrorCode::Unauthorized,
                    self.to_string(),
                );
                response.headers_mut().insert(
                    actix_web::http::header::WWW_AUTHENTICATE,
                    actix_web::http::header::HeaderValue::from_static("Bearer"),
                );
                response
            }
            AuthError::WrongRole(_) => problem_response(
                StatusCode::FORBIDDEN,
                ErrorCode::Forbidden,
                self.to_string(),
            ),
            AuthError::NotConfigured => problem_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::InternalError,
                "internal error",
            ),
        }
    }
}

/// Who a verified token speaks for.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The token's subject: the user id, or the calling service's name.
    pub sub: String,
    pub(crate) roles: Roles,
    pub(crate) exp: i64,
    pub(crate) iat: Option<i64>,
    /// For a provider's token, the generation of the provider's keys it was verified under.
    pub(crate) generation: Option<u64>,
}

impl Identity {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(role)
    }

    /// When the token expires, in seconds since the Unix epoch.
    pub fn expires_at(&self) -> i64 {
        self.exp
    }
}

/// A set of roles (a provider's token may grant a user both student and instructor).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Roles(u8);

impl Roles {
    fn bit(role: Role) -> u8 {
        match role {
            Role::Instructor => 1,
            Role::Student => 2,
            Role::Service => 4,
        }
    }

    pub fn insert(&mut self, role: Role) {
        self.0 |= Roles::bit(role);
    }

    pub fn contains(self, role: Role) -> bool {
        self.0 & Roles::bit(role) != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// Signing and verification keys derived from the shared secret, and the provider's keys when one
/// is configured.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    verified: Arc<VerifiedTokens>,
    provider: Option<Arc<Provider>>,
}

/// What checking a token without waiting found.
enum Verdict {
    Done(Result<Identity, AuthError>),
    /// A provider's token naming a key not loaded: the keys may have to be fetched.
    UnknownKey(Arc<Provider>, Box<Header>),
}

impl fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenKeys { .. }")
    }
}

/// A secret read from configuration, kept in a [`secrecy::SecretString`]: `Debug` never shows
/// it, it is wiped from memory when dropped, and reading it takes an explicit [`Secret::expose`].
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(SecretString::from(value.into()))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// A random 64-character secret for a local run.
    pub fn generate() -> Self {
        Secret::new(format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        ))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret::new(s))
    }
}

/// Why a secret was refused at start-up.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("AUTH_JWT_SECRET is not set: every service needs the shared token secret")]
    Missing,
    #[error("AUTH_JWT_SECRET is {0} bytes long: use at least {MIN_SECRET_LEN} random bytes")]
    TooShort(usize),
}

impl TokenKeys {
    /// Keys for `secret`, refused when it is shorter than [`MIN_SECRET_LEN`] bytes.
    pub fn from_secret(secret: &str) -> Result<Self, SecretError> {
        let secret = secret.trim();
        if secret.is_empty() {
            return Err(SecretError::Missing);
        }
        if secret.len() < MIN_SECRET_LEN {
            return Err(SecretError::TooShort(secret.len()));
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        // Audience is checked per role in `verify`: user tokens carry none, service tokens must.
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Ok(TokenKeys {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
            verified: Arc::new(VerifiedTokens::default()),
            provider: None,
        })
    }

    /// These keys, also accepting `provider`'s tokens.
    pub fn with_provider(mut self, provider: Option<Arc<Provider>>) -> Self {
        self.provider = provider;
        self
    }

    /// The OpenID Connect provider whose tokens are accepted, if any.
    pub fn provider(&self) -> Option<&Arc<Provider>> {
        self.provider.as_ref()
    }

    /// The readiness check for the provider's keys: `None` without a provider, else `("identity_provider", "ok" | "no_keys")`.
    pub fn readiness(&self) -> Option<(&'static str, &'static str)> {
        self.provider.as_ref().map(|p| {
            (
                "identity_provider",
                if p.has_keys() { "ok" } else { "no_keys" },
            )
        })
    }

    /// Verifies signature, algorithm, expiry and claims; service tokens must name
    /// [`SERVICE_AUDIENCE`] and live at most [`MAX_SERVICE_TOKEN_LIFETIME_SECS`]. A provider's
    /// token naming a key that is not loaded is refused without fetching keys (see
    /// [`TokenKeys::verify_fetching`]).
    pub fn verify(&self, token: &str) -> Result<Identity, AuthError> {
        match self.check(token) {
            Verdict::Done(result) => result,
            Verdict::UnknownKey(..) => Err(AuthError::Invalid("unknown key id (kid)")),
        }
    }

    /// [`TokenKeys::verify`], fetching the provider's keys first when the token names a key not
    /// loaded (at most once a minute).
    pub async fn verify_fetching(&self, token: &str) -> Result<Identity, AuthError> {
        match self.check(token) {
            Verdict::Done(result) => result,
            Verdict::UnknownKey(provider, header) => {
                self.verified_by_provider(&provider, token, &header).await
            }
        }
    }

    async fn verified_by_provider(
        &self,
        provider: &Provider,
        token: &str,
        header: &Header,
    ) -> Result<Identity, AuthError> {
        let identity = provider.verify_fetching(token, header, unix_now()).await?;
        self.verified.insert(token, Arc::new(identity.clone()));
        Ok(identity)
    }

    fn check(&self, token: &str) -> Verdict {
        let now = unix_now();
        if let Some(identity) = self.verified.get(token, now) {
            if let Some(generation) = identity.generation {
                // Verified by a provider's key: still good while no key was removed since.
                if self
                    .provider
                    .as_ref()
                    .is_some_and(|p| p.generation() == generation)
                {
                    return Verdict::Done(Ok((*identity).clone()));
                }
            } else {
                if identity.has(Role::Service)
                    && let Err(e) = check_service_lifetime(identity.iat, identity.exp, now)
                {
                    return Verdict::Done(Err(e));
                }
                return Verdict::Done(Ok((*identity).clone()));
            }
        }
        let header = match jsonwebtoken::decode_header(token) {
            Ok(header) => header,
            Err(_) => return Verdict::Done(Err(AuthError::Invalid("malformed token"))),
        };
        let result = match header.alg {
            Algorithm::HS256 => self.verify_signed(token, now),
            Algorithm::RS256 | Algorithm::ES256 => match &self.provider {
                Some(provider) => match provider.verify(token, &header, now) {
                    Ok(Some(identity)) => Ok(identity),
                    Ok(None) => {
                        return Verdict::UnknownKey(Arc::clone(provider), Box::new(header));
                    }
                    Err(e) => Err(e),
                },
                None => Err(AuthError::Invalid("algorithm not allowed")),
            },
            _ => Err(AuthError::Invalid("algorithm not allowed")),
        };
        if let Ok(identity) = &result {
            self.verified.insert(token, Arc::new(identity.clone()));
        }
        Verdict::Done(result)
    }

    fn verify_signed(&self, token: &str, now: i64) -> Result<Identity, AuthError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| refusal(&e))?;
        let claims = data.claims;
        check_times(claims.nbf, claims.iat, now)?;
        check_subject(&claims.sub)?;
        if claims.role == Role::Service {
            if claims.aud.as_deref() != Some(SERVICE_AUDIENCE) {
                return Err(AuthError::Invalid("service token for another audience"));
            }
            check_service_lifetime(claims.iat, claims.exp, now)?;
        }
        let mut roles = Roles::default();
        roles.insert(claims.role);
        Ok(Identity {
            sub: claims.sub,
            roles,
            exp: claims.exp,
            iat: claims.iat,
            generation: None,
        })
    }

    /// Signs a token for `sub` with `role`, valid for `ttl_secs`; `aud` is set on service tokens.
    pub fn mint(&self, sub: &str, role: Role, ttl_secs: i64) -> String {
        let now = unix_now();
        let claims = Claims {
            sub: sub.to_owned(),
            role,
            exp: now + ttl_secs,
            iat: Some(now),
            nbf: None,
            aud: (role == Role::Service).then(|| SERVICE_AUDIENCE.to_owned()),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .unwrap_or_else(|e| unreachable!("HS256 signing with a valid key cannot fail: {e}"))
    }
}

/// Why `jsonwebtoken` refused a token, as the 401 says it.
fn refusal(error: &jsonwebtoken::errors::Error) -> AuthError {
    use jsonwebtoken::errors::ErrorKind;
    match error.kind() {
        ErrorKind::ExpiredSignature => AuthError::Invalid("token expired"),
        ErrorKind::InvalidSignature => AuthError::Invalid("bad signature"),
        ErrorKind::InvalidAlgorithm => AuthError::Invalid("algorithm not allowed"),
        ErrorKind::InvalidIssuer => AuthError::Invalid("token from another issuer"),
        ErrorKind::InvalidAudience => AuthError::Invalid("token for another audience"),
        ErrorKind::MissingRequiredClaim(_) | ErrorKind::Json(_) => {
            AuthError::Invalid("missing or malformed claims")
        }
        _ => AuthError::Invalid("malformed token"),
    }
}

/// RFC 7519: a token is not accepted before its `nbf`, nor one issued in the future, beyond
/// [`CLOCK_LEEWAY_SECS`].
fn check_times(nbf: Option<i64>, iat: Option<i64>, now: i64) -> Result<(), AuthError> {
    if nbf.is_some_and(|nbf| nbf > now + CLOCK_LEEWAY_SECS) {
        return Err(AuthError::Invalid("token not valid yet (nbf)"));
    }
    if iat.is_some_and(|iat| iat > now + CLOCK_LEEWAY_SECS) {
        return Err(AuthError::Invalid("token issued in the future (iat)"));
    }
    Ok(())
}

/// A subject is a user id: 1..=255 characters, none of them a control character (a tab or a
/// newline in an id is never what a provider meant, and ids travel in logs, URLs and stores).
pub fn check_subject(sub: &str) -> Result<(), AuthError> {
    if sub.is_empty() || sub.chars().count() > 255 {
        return Err(AuthError::Invalid("sub must be 1..=255 characters"));
    }
    if sub.chars().any(char::is_control) {
        return Err(AuthError::Invalid(
            "sub must not contain control characters",
        ));
    }
    Ok(())
}

fn check_service_lifetime(iat: Option<i64>, exp: i64, now: i64) -> Result<(), AuthError> {
    let issued = iat.unwrap_or(now);
    if exp - issued > MAX_SERVICE_TOKEN_LIFETIME_SECS || exp - now > MAX_SERVICE_TOKEN_LIFETIME_SECS
    {
        return Err(AuthError::Invalid("service token lifetime too long"));
    }
    Ok(())
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A role an extractor demands.
pub trait RequiredRole {
    const ROLE: Role;
}

#[derive(Debug)]
pub struct InstructorRole;
#[derive(Debug)]
pub struct StudentRole;
#[derive(Debug)]
pub struct ServiceRole;

impl RequiredRole for InstructorRole {
    const ROLE: Role = Role::Instructor;
}
impl RequiredRole for StudentRole {
    const ROLE: Role = Role::Student;
}
impl RequiredRole for ServiceRole {
    const ROLE: Role = Role::Service;
}

/// An authenticated caller holding role `R`; extraction fails with 401 or 403 otherwise.
#[derive(Debug)]
pub struct Caller<R> {
    /// The token's subject: the user id, or the calling service's name.
    pub sub: String,
    _role: PhantomData<R>,
}

pub type Instructor = Caller<InstructorRole>;
pub type Student = Caller<StudentRole>;
pub type Service = Caller<ServiceRole>;

impl<R: RequiredRole> Caller<R> {
    fn from_identity(identity: Identity) -> Result<Self, AuthError> {
        if identity.has(R::ROLE) {
            Ok(Caller {
                sub: identity.sub,
                _role: PhantomData,
            })
        } else {
            Err(AuthError::WrongRole(R::ROLE))
        }
    }
}

impl<R: RequiredRole + 'static> FromRequest for Caller<R> {
    type Error = AuthError;
    type Future =
        Either<Ready<Result<Self, AuthError>>, LocalBoxFuture<'static, Result<Self, AuthError>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let (keys, token) = match bearer(req) {
            Ok(found) => found,
            Err(e) => return Either::Left(ready(Err(e))),
        };
        match keys.check(token) {
            Verdict::Done(result) => Either::Left(ready(result.and_then(Caller::from_identity))),
            Verdict::UnknownKey(provider, header) => {
                let (keys, token) = (keys.clone(), token.to_owned());
                Either::Right(Box::pin(async move {
                    keys.verified_by_provider(&provider, &token, &header)
                        .await
                        .and_then(Caller::from_identity)
                }))
            }
        }
    }
}

/// The token keys and the bearer token of `req`.
fn bearer(req: &HttpRequest) -> Result<(&web::Data<TokenKeys>, &str), AuthError> {
    let keys = req
        .app_data::<web::Data<TokenKeys>>()
        .ok_or(AuthError::NotConfigured)?;
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .ok_or(AuthError::Missing)?;
    let value = header
        .to_str()
        .map_err(|_| AuthError::Invalid("malformed header"))?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .ok_or(AuthError::Invalid("expected `Bearer <token>`"))?;
    Ok((keys, token.trim()))
}

#[cfg(test)]
mod tests;
