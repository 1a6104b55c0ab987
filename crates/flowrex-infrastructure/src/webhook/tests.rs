//! The signature against the Standard Webhooks specification's own example, and which
//! addresses are private.

use super::*;

#[test]
fn the_signature_is_the_specifications_example() {
    // From the specification's reference libraries' tests.
    let secret = SecretString::from("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned());
    let signed = signature(
        &[secret],
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1_614_265_330,
        br#"{"test": 2432232314}"#,
    );
    assert_eq!(signed, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

#[test]
fn two_secrets_give_two_signatures_and_a_bad_one_none() {
    let secrets = [
        SecretString::from("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned()),
        SecretString::from("whsec_not base64!".to_owned()),
        SecretString::from("whsec_c2Vjb25k".to_owned()),
    ];
    let signed = signature(&secrets, "id", 1, b"{}");
    let parts: Vec<&str> = signed.split(' ').collect();
    assert_eq!(parts.len(), 2, "{signed}");
    assert!(parts.iter().all(|part| part.starts_with("v1,")));
}

#[test]
fn private_loopback_and_link_local_addresses_are_private() {
    for private in [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "::1",
        "::",
        "fe80::1",
        "fd00::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::10.0.0.1",
        "64:ff9b::a00:5",
        "64:ff9b::7f00:1",
        "64:ff9b:1::808:808",
        "2002:a00:1::1",
        "2002:7f00:1::",
        "fec0::1",
        "192.0.0.8",
        "240.0.0.1",
        "255.255.255.255",
    ] {
        assert!(is_private(private.parse().unwrap()), "{private}");
    }
    for public in [
        "93.184.216.34",
        "1.1.1.1",
        "2606:4700::1111",
        "64:ff9b::808:808",
        "2002:808:808::1",
    ] {
        assert!(!is_private(public.parse().unwrap()), "{public}");
    }
}

#[tokio::test]
async fn urls_to_private_addresses_or_over_http_are_refused_unless_allowed() {
    let strict = HttpWebhookSender::new(WebhookRules::default()).unwrap();
    for url in [
        "http://example.com/hook",
        "https://127.0.0.1/hook",
        "https://[::1]/hook",
        "https://169.254.169.254/latest",
        "https://localhost/hook",
        "ftp://example.com/",
        "not a url",
    ] {
        assert!(strict.vet(url).await.is_err(), "{url}");
    }
    let open = HttpWebhookSender::new(WebhookRules {
        allow_http: true,
        allow_private: true,
    })
    .unwrap();
    assert_eq!(open.vet("http://127.0.0.1:9/hook").await, Ok(()));
    assert_eq!(open.vet("http://localhost:9/hook").await, Ok(()));
}
