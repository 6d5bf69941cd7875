use super::*;

#[test]
fn stat_fields_are_counted_from_the_last_parenthesis() {
    // A command name may hold spaces and parentheses: `) 1 2 (` must not shift the fields.
    let text = "4242 (evil) 1 2 (x) S 1 4242 4242 0 -1 4194560 1500 0 3 0 250 130 0 0 20 0 2 0 \
                987654 123457536 2890 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 3 0 0 0 0 0\n";
    assert_eq!(
        parse_stat(text),
        Some(Stat {
            cpu_ticks: 380,
            start_ticks: 987654,
            vsize_bytes: 123457536,
            rss_pages: 2890,
        })
    );
    assert_eq!(parse_stat("4242 (cut) S 1 2 3"), None);
    assert_eq!(parse_stat("no parenthesis at all"), None);
    assert_eq!(parse_stat(""), None);
}

#[test]
fn boot_time_from_proc_stat() {
    let text = "cpu  1 2 3 4\nintr 5 6\nctxt 77\nbtime 1767225600\nprocesses 9\n";
    assert_eq!(parse_boot_time(text), Some(1_767_225_600));
    assert_eq!(parse_boot_time("cpu 1 2\n"), None);
}

#[test]
fn this_process_has_every_family_with_plausible_values() {
    let families = families();
    let get = |name: &str| {
        families
            .iter()
            .find(|f| f.name == name)
            .map(|f| (f.kind, f.samples[0].value))
            .unwrap_or_else(|| panic!("no {name} in {families:?}"))
    };
    let (kind, cpu) = get("process_cpu_seconds");
    assert_eq!(kind, MetricKind::Counter);
    assert!(cpu >= 0.0);
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb = |key: &str| -> f64 {
        let line = status.lines().find_map(|l| l.strip_prefix(key)).unwrap();
        line.trim()
            .trim_end_matches("kB")
            .trim()
            .parse::<f64>()
            .unwrap()
            * 1024.0
    };
    // The test harness runs other tests on other threads: allow for their allocations.
    let (_, rss) = get("process_resident_memory_bytes");
    assert!((rss - kb("VmRSS:")).abs() < 64.0 * 1024.0 * 1024.0, "{rss}");
    let (_, vsize) = get("process_virtual_memory_bytes");
    assert!(vsize > rss, "{vsize} <= {rss}");
    let (_, open) = get("process_open_fds");
    assert!(open >= 3.0, "stdin, stdout, stderr at least: {open}");
    let (_, max) = get("process_max_fds");
    assert!(max >= open);
    let (_, start) = get("process_start_time_seconds");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(
        start <= now + 1.0 && start > now - 3600.0,
        "{start} vs {now}"
    );
    assert!(families.iter().all(|f| RESERVED.contains(&f.name.as_str())));
}

#[test]
fn the_kept_stat_descriptor_reads_the_file_anew() {
    let fresh = || parse_stat(&std::fs::read_to_string("/proc/self/stat").unwrap()).unwrap();
    let first = read_stat().unwrap().unwrap();
    // Burn CPU time, so a stale read (the first one's text again) would show.
    let before = fresh().cpu_ticks;
    let mut x = 0u64;
    while fresh().cpu_ticks < before + 2 {
        x = x.wrapping_add(std::hint::black_box(1));
    }
    let second = read_stat().unwrap().unwrap();
    assert_eq!(second.start_ticks, fresh().start_ticks);
    assert!(
        second.cpu_ticks >= before + 2,
        "{second:?} after {first:?} ({x})"
    );
}

#[test]
fn open_fds_by_the_directory_size_counts_what_a_listing_counts() {
    // The listing counts its own descriptor; the size (Linux >= 6.2) counts the kept one.
    let listed = std::fs::read_dir("/proc/self/fd").unwrap().count() as u64;
    let counted = open_fds().unwrap();
    // Other tests open files on other threads meanwhile: near, not equal.
    assert!(counted.abs_diff(listed) <= 8, "{counted} vs {listed}");
    assert!(counted >= 4, "{counted}");
}
