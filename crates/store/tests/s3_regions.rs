//! `?create=true` makes its bucket in any region: outside us-east-1, S3 and moto want the
//! region as the bucket's location constraint (the lab runs its S3 rows in eu-west-2).
#![cfg(feature = "s3")]

mod support;

use latency_store::from_url;
use support::{service, unique};

#[tokio::test]
async fn a_bucket_is_created_outside_us_east_1() {
    let Some(endpoint) = service("LATENCY_TEST_S3_ENDPOINT") else {
        return;
    };
    for region in ["eu-west-2", "us-east-1"] {
        let bucket = unique(&format!("region-{region}"));
        let url = format!("s3://{bucket}/hits?endpoint={endpoint}&region={region}&create=true");
        let store = from_url(&url)
            .await
            .unwrap_or_else(|err| panic!("{region}: {err}"));
        assert_eq!(store.incr().await.expect("incr"), 1, "{region}");
        assert_eq!(store.get().await.expect("get"), 1, "{region}");
    }
}
