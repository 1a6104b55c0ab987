//! Tests of `mail`.

use flowrex_domain::EmailAddress;

use super::*;

fn lifetimes() -> LinkLifetimes {
    LinkLifetimes {
        verify_email: "24 hours".to_owned(),
        reset_password: "1 hour".to_owned(),
        confirm_email_change: "1 hour".to_owned(),
        email_login: "10 minutes".to_owned(),
    }
}

#[test]
fn every_purpose_renders_a_subject_a_text_and_an_escaped_html_part() {
    let renderer = MailRenderer::new(None, lifetimes()).unwrap();
    for purpose in MailPurpose::ALL {
        let mut mail = Mail::with_link(
            EmailAddress::parse("ada+<x>@example.com")
                .unwrap_or_else(|_| EmailAddress::parse("ada@example.com").unwrap()),
            purpose,
            "http://127.0.0.1:8000/x?token=abc&y=1".to_owned(),
        );
        mail.new_email = Some("new@example.com".to_owned());
        let rendered = renderer.render(&mail).unwrap();
        assert!(!rendered.subject.is_empty() && !rendered.subject.contains('\n'));
        assert!(!rendered.text.starts_with("Subject"), "{purpose:?}");
        assert!(rendered.html.contains("<p>"), "{purpose:?}");
        if mail.purpose == MailPurpose::ResetPassword {
            assert!(rendered.text.contains("token=abc&y=1"));
            assert!(
                rendered.html.contains("token=abc&amp;y=1"),
                "{}",
                rendered.html
            );
            assert!(rendered.text.contains("1 hour"));
        }
    }
}

#[test]
fn a_template_in_the_override_folder_replaces_the_built_in_one() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("account_deleted.txt"),
        "Subject: Farewell\n\nBye {{ to }}.",
    )
    .unwrap();
    let renderer = MailRenderer::new(Some(dir.path()), lifetimes()).unwrap();
    let rendered = renderer
        .render(&Mail::notice(
            EmailAddress::parse("ada@example.com").unwrap(),
            MailPurpose::AccountDeleted,
        ))
        .unwrap();
    assert_eq!(rendered.subject, "Farewell");
    assert_eq!(rendered.text, "Bye ada@example.com.");
    std::fs::write(dir.path().join("verify_email.html"), "{{ unclosed").unwrap();
    assert_matches!(
        MailRenderer::new(Some(dir.path()), lifetimes()).err(),
        Some(MailConfigError::Template(..))
    );
}
