//! Sign-in through the operator's OpenID Connect provider: the authorization-code flow with PKCE
//! (RFC 7636), as `openidconnect` implements it. The provider's discovery document is read for
//! each sign-in (so its keys are always current); the state, nonce and PKCE verifier of a sign-in
//! in progress wait in a short-lived `HttpOnly` cookie scoped to `/signin`; the ID token is
//! verified (signature, issuer, audience, nonce) before the access token is kept, and the access
//! token is what the services are then called with.

use openidconnect::{
    AuthorizationCode, ClientId, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
    core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata},
};
use std::time::Duration;

/// The cookie holding a sign-in in progress.
pub const PENDING_COOKIE: &str = "storefront_signin";

/// How long a person may take at the provider's sign-in page.
pub const PENDING_SECS: i64 = 600;

/// The storefront as a client of the provider.
#[derive(Debug, Clone)]
pub struct OidcSignIn {
    issuer: String,
    client_id: String,
    redirect_uri: String,
    /// The API's audience, asked for with `resource` (RFC 8707) and `audience` (Auth0).
    audience: String,
    http: reqwest::Client,
}

/// Where to send the browser, and what to remember until it comes back.
#[derive(Debug)]
pub struct Started {
    pub url: String,
    /// `state nonce verifier`, for [`PENDING_COOKIE`].
    pub pending: String,
}

/// Why a sign-in did not complete.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("the provider could not be reached or answered something unexpected: {0}")]
    Provider(String),
    #[error("this sign-in expired or was started elsewhere; start again")]
    State,
    #[error("the provider refused the sign-in: {0}")]
    Refused(String),
}

fn provider_error(e: impl std::fmt::Display) -> SignInError {
    SignInError::Provider(e.to_string())
}

/// Sends one request of the flow with `http` (a timeout on every call).
async fn send(
    http: reqwest::Client,
    request: openidconnect::HttpRequest,
) -> Result<openidconnect::HttpResponse, reqwest::Error> {
    let request = reqwest::Request::try_from(request)?;
    let response = http.execute(request).await?;
    let mut answer = openidconnect::http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        answer = answer.header(name, value);
    }
    let body = response.bytes().await?.to_vec();
    Ok(answer
        .body(body)
        .unwrap_or_else(|_| openidconnect::http::Response::new(Vec::new())))
}

impl OidcSignIn {
    pub fn new(
        issuer: &str,
        audience: &str,
        client_id: &str,
        public_url: &str,
    ) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(10))
            // The flow's endpoints answer directly; following a redirect would be an open door.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(OidcSignIn {
            issuer: issuer.to_owned(),
            client_id: client_id.to_owned(),
            redirect_uri: format!("{}/signin/callback", public_url.trim_end_matches('/')),
            audience: audience.to_owned(),
            http,
        })
    }

    /// The provider's name to show on the sign-in button.
    pub fn provider_name(&self) -> String {
        url::Url::parse(&self.issuer)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| self.issuer.clone())
    }

    async fn metadata(&self) -> Result<CoreProviderMetadata, SignInError> {
        let http = self.http.clone();
        let client = move |request| send(http.clone(), request);
        let issuer = IssuerUrl::new(self.issuer.clone()).map_err(provider_error)?;
        CoreProviderMetadata::discover_async(issuer, &client)
            .await
            .map_err(provider_error)
    }

    /// The provider's authorization URL for a new sign-in.
    pub async fn start(&self) -> Result<Started, SignInError> {
        let metadata = self.metadata().await?;
        let redirect = RedirectUrl::new(self.redirect_uri.clone()).map_err(provider_error)?;
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.client_id.clone()),
            None,
        )
        .set_redirect_uri(redirect);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("profile".into()))
            .add_extra_param("resource", &self.audience)
            .add_extra_param("audience", &self.audience)
            .set_pkce_challenge(challenge)
            .url();
        Ok(Started {
            url: url.to_string(),
            pending: format!(
                "{} {} {}",
                state.secret(),
                nonce.secret(),
                verifier.secret()
            ),
        })
    }

    /// Completes a sign-in: checks `state` against the `pending` cookie, exchanges `code` for
    /// tokens (with the PKCE verifier) and verifies the ID token. Answers the access token.
    pub async fn finish(
        &self,
        pending: &str,
        state: &str,
        code: &str,
    ) -> Result<String, SignInError> {
        let mut parts = pending.split(' ');
        let (Some(expected), Some(nonce), Some(verifier), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(SignInError::State);
        };
        if expected.is_empty() || expected != state {
            return Err(SignInError::State);
        }
        let metadata = self.metadata().await?;
        let redirect = RedirectUrl::new(self.redirect_uri.clone()).map_err(provider_error)?;
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.client_id.clone()),
            None,
        )
        .set_redirect_uri(redirect);
        let http = self.http.clone();
        let send_with = move |request| send(http.clone(), request);
        let tokens = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(provider_error)?
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()))
            .add_extra_param("resource", &self.audience)
            .request_async(&send_with)
            .await
            .map_err(|e| SignInError::Refused(e.to_string()))?;
        let id_token = tokens
            .id_token()
            .ok_or_else(|| SignInError::Refused("no ID token in the answer".into()))?;
        id_token
            .claims(&client.id_token_verifier(), &Nonce::new(nonce.to_owned()))
            .map_err(|e| SignInError::Refused(e.to_string()))?;
        Ok(tokens.access_token().secret().clone())
    }
}
