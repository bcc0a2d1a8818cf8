//! Reading providers' answers over HTTP without letting one fill memory.

/// Why a response body was not read.
#[derive(Debug, thiserror::Error)]
pub(super) enum BodyError {
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
    #[error(transparent)]
    Read(#[from] openidconnect::reqwest::Error),
}

/// Reads a provider's answer of at most `limit` bytes, chunk by chunk: a provider that sends
/// more (hostile, or broken) is refused before it can fill memory.
pub(super) async fn read_limited(
    mut response: openidconnect::reqwest::Response,
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
