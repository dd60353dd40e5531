//! Secret Server's paging envelope (`skip`, `take`, `total`, `hasNext`) as one
//! stream of records over all pages.

use crate::error::ClientError;
use futures::stream::{self, BoxStream};
use futures::{StreamExt, TryStreamExt};
use secret_server_api::PagedResult;

/// Where the next page starts, or the end.
#[derive(Debug, Clone, Copy)]
enum Cursor {
    At(i64),
    Done,
}

/// Streams every record of a paged search, fetching one page of `take`
/// records at a time, lazily: a page is requested only when the consumer
/// has read the previous one.
///
/// The next `skip` is the current `skip` plus the records received, not the
/// server's `nextSkip` (which is `0` on the last page), and the stream ends
/// when `hasNext` is false; `total` is not trusted for either, since a server
/// may cap `take` or skip counting.
///
/// # Errors
/// Yields the first error of a page fetch and ends; yields
/// [`ClientError::Decode`] and ends when a page claims more records but
/// brings none, which would otherwise loop forever.
pub(crate) fn paged<T, F, Fut>(take: u32, mut fetch: F) -> BoxStream<'static, Result<T, ClientError>>
where
    T: Send + 'static,
    F: FnMut(i64, i64) -> Fut + Send + 'static,
    Fut: Future<Output = Result<PagedResult<T>, ClientError>> + Send + 'static,
{
    let take = i64::from(take);
    stream::try_unfold(Cursor::At(0), move |cursor| {
        let page = match cursor {
            Cursor::At(skip) => Some((skip, fetch(skip, take))),
            Cursor::Done => None,
        };
        async move {
            let Some((skip, page)) = page else { return Ok(None) };
            let page = page.await?;
            let received = i64::try_from(page.records.len()).unwrap_or(i64::MAX);
            let next = skip.saturating_add(received);
            let more = page.has_next;
            if more && received == 0 {
                return Err(ClientError::Decode {
                    message: format!("page at skip {skip} is empty but claims more records (total {})", page.total),
                });
            }
            let cursor = if more { Cursor::At(next) } else { Cursor::Done };
            Ok(Some((page.records, cursor)))
        }
    })
    .map_ok(|records| stream::iter(records.into_iter().map(Ok)))
    .try_flatten()
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::TryStreamExt;
    use std::sync::{Arc, Mutex};

    /// A server holding `total` numbered records.
    fn server(
        total: i64,
        requests: Arc<Mutex<Vec<(i64, i64)>>>,
    ) -> impl FnMut(i64, i64) -> futures::future::Ready<Result<PagedResult<i64>, ClientError>> + Send {
        move |skip, take| {
            requests.lock().unwrap().push((skip, take));
            let records: Vec<i64> = (skip..(skip + take).min(total)).collect();
            futures::future::ready(Ok(PagedResult::page(records, total, skip, take, Vec::new())))
        }
    }

    #[tokio::test]
    async fn stream_yields_every_record_of_every_page_in_order() {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let all: Vec<i64> = paged(1000, server(2500, Arc::clone(&requests))).try_collect().await.unwrap();
        assert_eq!(all, (0..2500).collect::<Vec<_>>());
        assert_eq!(*requests.lock().unwrap(), [(0, 1000), (1000, 1000), (2000, 1000)]);
    }

    #[tokio::test]
    async fn exact_multiple_of_the_page_size_needs_no_extra_request() {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let all: Vec<i64> = paged(10, server(30, Arc::clone(&requests))).try_collect().await.unwrap();
        assert_eq!(all.len(), 30);
        assert_eq!(requests.lock().unwrap().len(), 3);
    }

    #[tokio::test]
    async fn empty_result_is_one_request_and_no_records() {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let all: Vec<i64> = paged(10, server(0, Arc::clone(&requests))).try_collect().await.unwrap();
        assert!(all.is_empty());
        assert_eq!(requests.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn pages_are_fetched_only_as_the_consumer_reads() {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let mut stream = paged(10, server(100, Arc::clone(&requests)));
        for _ in 0..11 {
            stream.try_next().await.unwrap();
        }
        assert_eq!(requests.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn server_capping_take_below_the_page_size_still_yields_everything() {
        // A server that returns at most 7 records whatever `take` says.
        let fetch = |skip: i64, _take: i64| {
            let records: Vec<i64> = (skip..(skip + 7).min(50)).collect();
            futures::future::ready(Ok(PagedResult::page(records, 50, skip, 7, Vec::new())))
        };
        let all: Vec<i64> = paged(1000, fetch).try_collect().await.unwrap();
        assert_eq!(all, (0..50).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn an_error_ends_the_stream_after_the_records_before_it() {
        let fetch = |skip: i64, take: i64| {
            futures::future::ready(if skip == 0 {
                Ok(PagedResult::page((0..take).collect(), 100, 0, take, Vec::new()))
            } else {
                Err(ClientError::Server { status: 500, message: "boom".into(), retry_after: None })
            })
        };
        let items: Vec<Result<i64, ClientError>> = paged(10, fetch).collect().await;
        assert_eq!(items.len(), 11);
        assert!(items[..10].iter().all(Result::is_ok));
        assert!(matches!(items[10], Err(ClientError::Server { status: 500, .. })));
    }

    #[tokio::test]
    async fn an_empty_page_claiming_more_is_an_error_not_an_endless_loop() {
        let fetch = |skip: i64, take: i64| {
            let mut page = PagedResult::page(Vec::<i64>::new(), 100, skip, take, Vec::new());
            page.has_next = true;
            futures::future::ready(Ok(page))
        };
        let items: Vec<Result<i64, ClientError>> = paged(10, fetch).collect().await;
        assert!(matches!(items.as_slice(), [Err(ClientError::Decode { .. })]));
    }
}
