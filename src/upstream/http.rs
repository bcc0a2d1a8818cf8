//! Reading providers' answers over HTTP without letting one fill memory.
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use openidconnect::reqwest;
use openidconnect::{AsyncHttpClient, HttpRequest, HttpResponse};

/// Why a response body was not read.
#[derive(Debug, thiserror::Error)]
pub(super) enum BodyError {
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
    #[error(transparent)]
    Read(#[from] reqwest::Error),
}

/// Reads a provider's answer of at most `limit` bytes, chunk by chunk: a provider that sends
/// more (hostile, or broken) is refused before it can fill memory.
pub(super) async fn read_limited(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, BodyError> {
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return Err(BodyError::TooLarge(limit));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// How long fetching a SAML metadata document may take.
const METADATA_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest SAML metadata document read (a federation's aggregate is not one entity's).
const MAX_METADATA_BYTES: usize = 1024 * 1024;

/// The SAML metadata document at `url` (an IdP's, or a service provider's), or why it could not
/// be read: redirects are not followed, and the answer must be a success, at most 1 MiB, UTF-8.
pub(crate) async fn fetch_metadata(url: &str) -> Result<String, String> {
    let http = reqwest::ClientBuilder::new()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(METADATA_TIMEOUT)
        .build()
        .map_err(|e| e.to_string())?;
    let response = http.get(url).send().await.map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("answered {}", response.status()));
    }
    let body = read_limited(response, MAX_METADATA_BYTES)
        .await
        .map_err(|e| e.to_string())?;
    String::from_utf8(body).map_err(|_| "not UTF-8".to_string())
}

/// The HTTP client openidconnect's own requests (discovery, keys, the code exchange) go through:
/// `http`, with every answer read by [`read_limited`], since openidconnect reads a whole body
/// into memory however large it is.
pub(super) struct Capped<'a> {
    pub http: &'a reqwest::Client,
    pub limit: usize,
}

impl<'c> AsyncHttpClient<'c> for Capped<'_> {
    type Error = BodyError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, BodyError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let response = self.http.execute(request.try_into()?).await?;
            let status = response.status();
            let headers = response.headers().clone();
            let mut answer = HttpResponse::new(read_limited(response, self.limit).await?);
            *answer.status_mut() = status;
            *answer.headers_mut() = headers;
            Ok(answer)
        })
    }
}
