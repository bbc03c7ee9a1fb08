//! Seeds for ISNs, SYN-cookie secrets and hashing. Unless the user fixes one with `--seed`, it
//! comes from the operating system's random source: a guessable seed lets an off-path attacker
//! predict sequence numbers and forge SYN cookies.

/// The operating system could not give us random bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("could not read a random seed from the operating system ({0}); pass --seed N to set one")]
pub struct SeedError(getrandom::Error);

/// `given`, or else a fresh random seed.
pub fn seed_or_random(given: Option<u64>) -> Result<u64, SeedError> {
    match given {
        Some(s) => Ok(s),
        None => getrandom::u64().map_err(SeedError),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_seed_is_kept_and_random_ones_differ() {
        assert_eq!(seed_or_random(Some(7)), Ok(7));
        let (a, b) = (seed_or_random(None).unwrap(), seed_or_random(None).unwrap());
        assert_ne!(a, b, "two draws of 64 random bits collided");
    }
}
