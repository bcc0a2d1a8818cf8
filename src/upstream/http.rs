//! Reading providers' answers over HTTP without letting one fill memory.
use std::future::Future;
use std::pin::Pin;

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
