//! Every store form is listed whatever the build, and a build without a backend says which
//! cargo feature adds it.

use latency_store::{accepted_forms, from_url};

#[test]
fn every_scheme_is_listed_in_every_build() {
    let forms = accepted_forms().join("\n");
    for scheme in latency_store::StoreScheme::ALL {
        assert!(
            forms.contains(scheme.form()),
            "{scheme} missing from:\n{forms}"
        );
    }
    for scheme in [
        "memory://",
        "file://",
        "s3://",
        "dynamodb://",
        "redis://",
        "postgres://",
    ] {
        assert!(forms.contains(scheme), "{scheme} missing from:\n{forms}");
    }
}

#[tokio::test]
async fn a_scheme_not_built_in_names_its_feature() {
    for (scheme, feature, built) in [
        ("s3://b/k", "s3", cfg!(feature = "s3")),
        ("dynamodb://t", "dynamodb", cfg!(feature = "dynamodb")),
        ("redis://127.0.0.1:1/", "redis", cfg!(feature = "redis")),
        (
            "postgres://u@127.0.0.1:1/db",
            "postgres",
            cfg!(feature = "postgres"),
        ),
    ] {
        let listed = accepted_forms()
            .iter()
            .any(|form| form.contains(&format!("cargo feature `{feature}`")));
        assert_eq!(
            listed, !built,
            "{feature}: the form says whether it is built in"
        );
        if built {
            continue;
        }
        let err = from_url(scheme).await.err().expect("not built in");
        assert!(
            err.to_string()
                .contains(&format!("cargo feature `{feature}`")),
            "{scheme}: {err}"
        );
    }
}
