//! `kafka-gateway hash-password` and `hash-token`: make the entries of the users and tokens
//! files of `[<service>.http.auth]`, reading the secret from stdin so that it never shows
//! in the shell history or the process list.

use std::io::BufRead;
use std::process::ExitCode;

use edge::security::tokens::token_digest;
use edge::security::users::hash_password;

/// The first line of stdin, without its line ending.
fn read_secret(what: &str) -> Result<String, String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|error| format!("cannot read the {what} from stdin: {error}"))?;
    let secret = line.trim_end_matches(['\r', '\n']).to_owned();
    if secret.is_empty() {
        return Err(format!("the {what} on stdin is empty"));
    }
    Ok(secret)
}

/// Prints an argon2id PHC string of the password on stdin (for `users_file`).
pub(crate) fn hash_password_command() -> ExitCode {
    let outcome = read_secret("password").and_then(|password| hash_password(password.as_bytes()));
    print_or_fail(outcome)
}

/// Prints `sha256:<hex>` of the token on stdin (for `tokens_file`).
pub(crate) fn hash_token_command() -> ExitCode {
    print_or_fail(read_secret("token").map(|token| format!("sha256:{}", token_digest(&token))))
}

fn print_or_fail(outcome: Result<String, String>) -> ExitCode {
    match outcome {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
