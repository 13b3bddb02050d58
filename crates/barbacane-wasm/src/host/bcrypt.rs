//! `barbacane:crypto.bcrypt_verify(pw.., hash..) -> i32`: checks a password against a
//! bcrypt hash (`$2a$`, `$2b$`, `$2x$`, `$2y$`) natively.
//!
//! bcrypt is deliberately slow (2^cost rounds of an expensive key schedule): a cost-10 hash
//! takes tens of milliseconds natively, more inside WebAssembly, against the 100 ms budget
//! of a plugin call. So the check runs here, and its time does not count against the
//! plugin's budget (the deadline is re-armed afterwards, as after an outbound call). It
//! still occupies the worker thread that runs the request: plugins should remember
//! verified credentials (`basic-auth` does).

use wasmtime::{AsContextMut, Caller, Linker};

use crate::memory::read_bytes;
use crate::state::HostState;

/// Costs above this are refused (-1): 2^17 rounds take seconds.
pub(crate) const MAX_COST: u32 = 16;

pub(crate) fn add_to_linker(linker: &mut Linker<HostState>, module: &str) -> wasmtime::Result<()> {
    linker.func_wrap(
        module,
        "bcrypt_verify",
        |mut c: Caller<'_, HostState>, pptr: i32, plen: i32, hptr: i32, hlen: i32| {
            let password = read_bytes(&mut c, pptr, plen)?;
            let hash = read_bytes(&mut c, hptr, hlen)?;
            let answer = match check(&password, &hash) {
                Ok(matched) => i32::from(matched),
                Err(reason) => {
                    c.data_mut().give(reason);
                    -1
                }
            };
            let ticks = c.data().deadline_ticks;
            c.as_context_mut().set_epoch_deadline(ticks);
            Ok(answer)
        },
    )?;
    Ok(())
}

/// Whether `password` matches `hash`; an error for a hash that is not bcrypt or costs too much.
pub(crate) fn check(password: &[u8], hash: &[u8]) -> Result<bool, String> {
    let hash = std::str::from_utf8(hash).map_err(|_| "the hash is not text".to_owned())?;
    let parts: bcrypt::HashParts = hash
        .parse()
        .map_err(|e: bcrypt::BcryptError| format!("not a bcrypt hash: {e}"))?;
    if parts.get_cost() > MAX_COST {
        return Err(format!(
            "bcrypt cost {} is over {MAX_COST}",
            parts.get_cost()
        ));
    }
    bcrypt::verify(password, hash).map_err(|e| format!("not a bcrypt hash: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_passwords_against_hashes_of_each_prefix() {
        let salt = *b"0123456789abcdef";
        let parts = bcrypt::hash_with_salt("s3cret", 4, salt).unwrap();
        for version in [
            bcrypt::Version::TwoA,
            bcrypt::Version::TwoB,
            bcrypt::Version::TwoX,
            bcrypt::Version::TwoY,
        ] {
            let hash = parts.format_for_version(version);
            assert_eq!(check(b"s3cret", hash.as_bytes()), Ok(true), "{hash}");
            assert_eq!(check(b"s3creT", hash.as_bytes()), Ok(false), "{hash}");
        }
    }

    #[test]
    fn refuses_what_is_not_a_usable_bcrypt_hash() {
        assert!(check(b"x", b"plain").is_err());
        assert!(check(b"x", b"$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA").is_err());
        let costly = bcrypt::hash_with_salt("x", 4, [7; 16])
            .unwrap()
            .format_for_version(bcrypt::Version::TwoB)
            .replacen("$04$", "$17$", 1);
        let error = check(b"x", costly.as_bytes()).unwrap_err();
        assert!(error.contains("over 16"), "{error}");
    }
}
