//! `kafka-gateway hash-password` / `hash-token` make lines the HTTP auth files accept.

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::process::{Command, Stdio};
use tests::process::gateway_binary;

use edge::security::users::Users;

fn run(subcommand: &str, stdin: &str) -> std::process::Output {
    let mut child = Command::new(gateway_binary())
        .arg(subcommand)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn hash_password_output_is_accepted_by_the_users_file() {
    let output = run("hash-password", "correct horse\n");
    assert!(output.status.success(), "{output:?}");
    let hash = String::from_utf8(output.stdout).unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    let path = std::env::temp_dir().join(format!("hash-password-test-{}", std::process::id()));
    std::fs::write(&path, format!("alice:{hash}")).unwrap();
    let users = Users::load(&path, "bridge.http.auth.users_file").unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(users.verify("alice", b"correct horse"));
    assert!(!users.verify("alice", b"correct horse\n"));
}

#[test]
fn hash_token_prints_the_sha256_digest_and_empty_input_fails() {
    let output = run("hash-token", "abc\n");
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        String::from_utf8(output.stdout).unwrap().trim(),
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    let output = run("hash-password", "");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("empty"));
}
