//! The cores workers are pinned to (the pinning itself is `port::Workers::spawn`).

/// The cores this process may run on. Read it before `Eal::init`, which confines the main
/// thread to EAL's main lcore.
pub fn allowed() -> Vec<usize> {
    core_affinity::get_core_ids()
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.id)
        .collect()
}

/// `--cores`, or else one core the main thread was not confined to by EAL (the last one this
/// process may use).
pub fn for_workers(given: Option<&[usize]>, allowed_before_eal: &[usize]) -> Vec<usize> {
    match given {
        Some(c) => c.to_vec(),
        None => vec![*allowed_before_eal.last().unwrap_or(&0)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_cores_win_else_the_last_allowed_one() {
        assert_eq!(for_workers(Some(&[2, 3]), &[0, 1]), [2, 3]);
        assert_eq!(for_workers(None, &[0, 1, 5]), [5]);
        assert_eq!(for_workers(None, &[]), [0]);
    }
}
