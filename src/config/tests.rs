use super::*;

fn load_str(text: &str, env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    // One directory per call: tests run in parallel, and two configs of one length (the
    // name's part before) overwrote each other's file now and then.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("ma-config-test-{}-{call}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("adapter.toml");
    std::fs::write(&path, text).unwrap();
    let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
    let loaded = Settings::load(Some(&path), env, &Overrides::default());
    let _ = std::fs::remove_dir_all(&dir);
    loaded
}

#[test]
fn embedded_default_reads_proc_meminfo() {
    let s = Settings::load(None, Vec::new(), &Overrides::default()).unwrap();
    assert_eq!(s.origin, Origin::Embedded);
    assert_eq!(s.server.listen.to_string(), DEFAULT_LISTEN);
    assert_eq!(s.sources.len(), 1);
    assert_eq!(s.sources[0].name, "meminfo");
    assert_eq!(s.sources[0].parser, "meminfo");
    assert_eq!(s.sources[0].source.describe(), "/proc/meminfo");
}

#[test]
fn environment_overrides_file_and_flags_override_both() {
    let text = "[server]\nlisten = '127.0.0.1:1000'\n[sources.redis]\ntype = 'tcp'\naddress = '127.0.0.1:6379'\nparser = 'kv'\ntimeout = '1s'\n";
    let s = load_str(
        text,
        &[
            ("METRICS_ADAPTER__SERVER__LISTEN", "127.0.0.1:2000"),
            ("METRICS_ADAPTER__SOURCES__REDIS__ADDRESS", "127.0.0.1:6380"),
            ("METRICS_ADAPTER__SOURCES__REDIS__MAX_BYTES", "1000"),
            ("UNRELATED", "x"),
        ],
    )
    .unwrap();
    assert_eq!(s.server.listen.to_string(), "127.0.0.1:2000");
    assert_eq!(s.sources[0].source.describe(), "127.0.0.1:6380");
    assert_eq!(s.sources[0].max_bytes, 1000);
    assert_eq!(s.sources[0].timeout, Duration::from_secs(1));
    let o = Overrides {
        listen: Some("127.0.0.1:3000".into()),
        ..Overrides::default()
    };
    let raw = Settings::layer(&Origin::Embedded, text, Vec::new())
        .unwrap()
        .0;
    assert_eq!(
        Settings::from_raw(Origin::Embedded, raw, &o)
            .unwrap()
            .server
            .listen
            .to_string(),
        "127.0.0.1:3000"
    );
}

fn err(text: &str) -> String {
    load_str(text, &[]).unwrap_err().to_string()
}

#[test]
fn errors_name_file_key_and_reason() {
    let e = err("[server]\nlisten = 'nope'\n");
    assert!(
        e.contains("adapter.toml: server.listen: \"nope\" is not an address:port"),
        "{e}"
    );
    let e = err("[sources.a]\ntype = 'file'\npath = '/x'\nparser = 'kv'\nurl = 'http://x/'\n");
    assert!(
        e.contains("sources.a.url: does not apply to a source of type file"),
        "{e}"
    );
    let e = err("[sources.a]\ntype = 'ftp'\nparser = 'kv'\n");
    assert!(
        e.contains("sources.a.type: unknown source type \"ftp\""),
        "{e}"
    );
    let e = err("[sources.a]\ntype = 'http'\nparser = 'kv'\nurl = 'ftp://x/'\n");
    assert!(e.contains("sources.a.url: scheme \"ftp\""), "{e}");
    let e = err("[sources.a]\ntype = 'file'\npath = '/x'\nparser = 'kv'\ntimeout = 'soon'\n");
    assert!(
        e.contains("sources.a.timeout: \"soon\" is not a positive duration"),
        "{e}"
    );
    let e = err("[sources.a]\ntype = 'file'\npath = '/x'\n");
    assert!(
        e.contains("adapter.toml: missing configuration field \"sources.a.parser\""),
        "{e}"
    );
    let e = err("[log]\nformat = 'xml'\n");
    assert!(e.contains("log.format"), "{e}");
}

#[test]
fn unknown_keys_are_errors() {
    let e = err("[server]\nlisten = '127.0.0.1:1'\nlisten_port = 3\n");
    assert!(
        e.contains("adapter.toml") && e.contains("listen_port"),
        "{e}"
    );
    let e = err("[sources.a]\ntype = 'file'\npath = '/x'\nparser = 'kv'\npaht = '/y'\n");
    assert!(e.contains("paht"), "{e}");
}

#[test]
fn missing_file_is_named() {
    let e = Settings::load(
        Some(Path::new("/nonexistent/adapter.toml")),
        Vec::new(),
        &Overrides::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("/nonexistent/adapter.toml: cannot read"),
        "{e}"
    );
}

#[test]
fn durations() {
    assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
    assert_eq!(parse_duration("2.5"), Ok(Duration::from_millis(2500)));
    assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
    assert!(parse_duration("0s").is_err());
    assert!(parse_duration("-1s").is_err());
    assert!(parse_duration("NaNs").is_err());
}

#[test]
fn web_config_file_from_key_env_and_flag() {
    let s = Settings::load(None, Vec::new(), &Overrides::default()).unwrap();
    assert_eq!(s.server.web_config_file, None);
    let s = load_str("[server]\nweb_config_file = '/etc/adapter/web.yml'\n", &[]).unwrap();
    assert_eq!(
        s.server.web_config_file.as_deref(),
        Some(Path::new("/etc/adapter/web.yml"))
    );
    let s = load_str(
        "[server]\nweb_config_file = '/etc/adapter/web.yml'\n",
        &[("METRICS_ADAPTER__SERVER__WEB_CONFIG_FILE", "/env/web.yml")],
    )
    .unwrap();
    assert_eq!(
        s.server.web_config_file.as_deref(),
        Some(Path::new("/env/web.yml"))
    );
    let raw = Settings::layer(
        &Origin::Embedded,
        "[server]\nweb_config_file = '/etc/adapter/web.yml'\n",
        Vec::new(),
    )
    .unwrap()
    .0;
    let flag = Overrides {
        web_config_file: Some("/flag/web.yml".into()),
        ..Overrides::default()
    };
    let s = Settings::from_raw(Origin::Embedded, raw.clone(), &flag).unwrap();
    assert_eq!(
        s.server.web_config_file.as_deref(),
        Some(Path::new("/flag/web.yml"))
    );
    // An empty flag switches it off.
    let off = Overrides {
        web_config_file: Some(String::new()),
        ..Overrides::default()
    };
    let s = Settings::from_raw(Origin::Embedded, raw, &off).unwrap();
    assert_eq!(s.server.web_config_file, None);
}

#[test]
fn socket_addresses_that_cannot_run_are_refused_at_load() {
    // Each message in full, after the file's path: `origin: key: reason`.
    let cases = [
        (
            "[sources.r]\ntype = 'tcp'\nparser = 'kv'\naddress = 'unix:'\n",
            "adapter.toml: sources.r.address: \"unix:\" needs the socket's path, as in unix:/run/redis/redis.sock",
        ),
        (
            "[sources.r]\ntype = 'tcp'\nparser = 'kv'\naddress = 'redis'\n",
            "adapter.toml: sources.r.address: \"redis\" has no port; use host:port, e.g. 127.0.0.1:6379",
        ),
        (
            "[sources.r]\ntype = 'tcp'\nparser = 'kv'\naddress = '127.0.0.1:0'\n",
            "adapter.toml: sources.r.address: \"127.0.0.1:0\": port 0 is out of range 1-65535",
        ),
        (
            "[sources.f]\ntype = 'fastcgi'\nparser = 'kv'\naddress = '127.0.0.1:fpm'\n",
            "adapter.toml: sources.f.address: \"127.0.0.1:fpm\": port \"fpm\" is not a number; use host:port, e.g. 127.0.0.1:6379",
        ),
        (
            "[sources.f]\ntype = 'fastcgi'\nparser = 'kv'\naddress = 'unix:'\n",
            "adapter.toml: sources.f.address: \"unix:\" needs the socket's path, as in unix:/run/php/fpm.sock",
        ),
    ];
    for (text, want) in cases {
        let e = err(text);
        assert!(e.ends_with(want), "{e}");
    }
    // FastCGI does speak unix sockets (PHP-FPM's usual listen), and IPv6 goes in brackets.
    let s = load_str(
        "[sources.f]\ntype = 'fastcgi'\nparser = 'kv'\naddress = 'unix:/run/php/fpm.sock'\n\
         [sources.r]\ntype = 'tcp'\nparser = 'kv'\naddress = '[::1]:6379'\n",
        &[],
    )
    .unwrap();
    assert_eq!(s.sources.len(), 2);
}

#[test]
fn telemetry_path_flag_overrides_metrics_path() {
    let text = "[server]\nmetrics_path = '/from-file'\n";
    let raw = Settings::layer(&Origin::Embedded, text, Vec::new())
        .unwrap()
        .0;
    let s = Settings::from_raw(Origin::Embedded, raw.clone(), &Overrides::default()).unwrap();
    assert_eq!(s.server.metrics_path, "/from-file");
    let flag = Overrides {
        metrics_path: Some("/stats/prometheus".into()),
        ..Overrides::default()
    };
    let s = Settings::from_raw(Origin::Embedded, raw.clone(), &flag).unwrap();
    assert_eq!(s.server.metrics_path, "/stats/prometheus");
    let bad = Overrides {
        metrics_path: Some("metrics".into()),
        ..Overrides::default()
    };
    let e = Settings::from_raw(Origin::Embedded, raw, &bad)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "embedded default config: server.metrics_path: \"metrics\" must start with /"
    );
}

#[test]
fn listen_takes_the_go_exporters_port_only_form() {
    assert_eq!(parse_listen(":9100").unwrap().to_string(), "0.0.0.0:9100");
    assert_eq!(
        parse_listen("127.0.0.1:9100").unwrap().to_string(),
        "127.0.0.1:9100"
    );
    assert_eq!(
        parse_listen("[::1]:9100").unwrap().to_string(),
        "[::1]:9100"
    );
    for bad in [":", "::9100", ":port", "9100", ""] {
        assert!(parse_listen(bad).is_err(), "{bad:?}");
    }
    let o = Overrides {
        listen: Some(":9101".into()),
        ..Overrides::default()
    };
    let s = Settings::load(None, Vec::new(), &o).unwrap();
    assert_eq!(s.server.listen.to_string(), "0.0.0.0:9101");
}

#[test]
fn env_overrides_reach_a_source_kinds_own_keys() {
    // `path` is the file kind's key, `max_age` and `max_bytes` common ones: all arrive from
    // the environment (numbers by `try_parsing`) as the table gives them.
    let text = "[sources.f]\ntype = 'file'\npath = '/x'\nparser = 'kv'\nmax_age = '1h'\n";
    let s = load_str(
        text,
        &[
            ("METRICS_ADAPTER__SOURCES__F__MAX_AGE", "30"),
            ("METRICS_ADAPTER__SOURCES__F__MAX_BYTES", "2048"),
            ("METRICS_ADAPTER__SOURCES__F__PATH", "/y"),
        ],
    )
    .unwrap();
    assert_eq!(s.sources[0].max_age, MaxAge::After(Duration::from_secs(30)));
    assert_eq!(s.sources[0].max_bytes, 2048);
    assert_eq!(s.sources[0].source.describe(), "/y");
    let s = load_str(text, &[("METRICS_ADAPTER__SOURCES__F__MAX_AGE", "5m")]).unwrap();
    assert_eq!(
        s.sources[0].max_age,
        MaxAge::After(Duration::from_secs(300))
    );
    let s = load_str(text, &[("METRICS_ADAPTER__SOURCES__F__MAX_AGE", "off")]).unwrap();
    assert_eq!(s.sources[0].max_age, MaxAge::Off);
    // A source may come from the environment alone.
    let s = load_str(
        "",
        &[
            ("METRICS_ADAPTER__SOURCES__N__TYPE", "http"),
            ("METRICS_ADAPTER__SOURCES__N__URL", "http://127.0.0.1:81/y"),
            ("METRICS_ADAPTER__SOURCES__N__GZIP", "false"),
            ("METRICS_ADAPTER__SOURCES__N__PARSER", "kv"),
        ],
    )
    .unwrap();
    assert_eq!(s.sources[0].source.describe(), "http://127.0.0.1:81/y");
    let e = load_str(text, &[("METRICS_ADAPTER__SOURCES__F__URL", "http://x/")])
        .unwrap_err()
        .to_string();
    // The variable is named, not the file: the file does not hold the bad key.
    assert_eq!(
        e,
        "METRICS_ADAPTER__SOURCES__F__URL: does not apply to a source of type file"
    );
}

#[test]
fn a_kinds_key_errors_have_the_house_shape() {
    let file = "[sources.a]\ntype = 'file'\npath = '/x'\nparser = 'kv'\n";
    let e = err(&format!("{file}timout = '1s'\n"));
    assert!(
        e.ends_with(
            "adapter.toml: sources.a.timout: unknown field `timout`, expected one of `path`, \
             `block_start`, `block_end`, `follow_links` (or one every source takes: type, parser, \
             timeout, interval, max_bytes, max_series, max_age, expire_after, labels, include, exclude, \
             relabel)"
        ),
        "{e}"
    );
    let e = err("[sources.e]\ntype = 'exec'\nparser = 'kv'\ncommand = 'echo'\n");
    assert!(
        e.ends_with(
            "adapter.toml: sources.e.command: invalid type: string \"echo\", expected a sequence"
        ),
        "{e}"
    );
    let e = err("[sources.h]\ntype = 'http'\nparser = 'kv'\nurl = 'http://x/'\ngzip = 'maybe'\n");
    assert!(
        e.ends_with(
            "adapter.toml: sources.h.gzip: invalid type: string \"maybe\", expected a boolean"
        ),
        "{e}"
    );
    // A key of the source's own type that is missing is named before another type's key.
    let e = err("[sources.a]\ntype = 'file'\nparser = 'kv'\nurl = 'http://x/'\n");
    assert!(
        e.ends_with("sources.a.path: missing: the file to read"),
        "{e}"
    );
    let e = err("[sources.a]\ntype = ''\nparser = 'kv'\n");
    assert!(
        e.ends_with("sources.a.type: missing: one of file, http, tcp, exec, fastcgi, tail"),
        "{e}"
    );
}

#[test]
fn common_keys_are_the_ones_raw_source_takes() {
    // Every listed key is a field: none of them is left over for the kind.
    let table: String = COMMON_KEYS
        .iter()
        .map(|k| match *k {
            "labels" => "labels = { a = 'b' }\n".to_string(),
            "include" | "exclude" => format!("{k} = ['x']\n"),
            "relabel" => "relabel = [{ target_label = 'a', replacement = 'b' }]\n".to_string(),
            "max_bytes" | "max_series" => format!("{k} = 1\n"),
            other => format!("{other} = '1s'\n"),
        })
        .collect();
    let raw = Settings::layer(
        &Origin::Embedded,
        &format!("[sources.a]\n{table}"),
        Vec::new(),
    )
    .unwrap()
    .0;
    assert!(
        raw.sources["a"].keys.is_empty(),
        "{:?}",
        raw.sources["a"].keys
    );
    // And no kind takes a common key: it would never reach the kind.
    for kind in crate::source::KINDS {
        for k in (kind.keys)() {
            assert!(!COMMON_KEYS.contains(k), "{}: {k}", kind.name);
        }
    }
}

#[test]
fn definition_changes_exactly_when_the_table_does() {
    let text = "[sources.h]\ntype = 'http'\nparser = 'kv'\nurl = 'http://127.0.0.1/x'\n\
                headers = { A = '1', B = '2', C = '3', D = '4' }\nlabels = { x = '1', y = '2' }\n";
    let def = |text: &str, env: &[(&str, &str)]| {
        load_str(text, env).unwrap().sources[0].definition.clone()
    };
    // The same table twice (tables are hash maps inside the `config` crate: order varies).
    let first = def(text, &[]);
    for _ in 0..8 {
        assert_eq!(def(text, &[]), first);
    }
    assert_ne!(def(&text.replace("'4'", "'5'"), &[]), first);
    assert_ne!(def(&text.replace("y = '2'", "y = '3'"), &[]), first);
    assert_ne!(
        def(text, &[("METRICS_ADAPTER__SOURCES__H__GZIP", "false")]),
        first
    );
    assert_ne!(
        def(text, &[("METRICS_ADAPTER__SOURCES__H__TIMEOUT", "2s")]),
        first
    );
}

/// Environment variables: errors name the variable, values stay text, lists split, names
/// with capitals are reached. Each message pinned in full.
#[test]
fn environment_values_lists_names_and_errors() {
    let file =
        "[sources.MyApp]\ntype = 'file'\npath = '/x'\nparser = 'kv'\nlabels = { zone = 'a' }\n";
    let s = load_str(
        file,
        &[
            ("METRICS_ADAPTER__SOURCES__MYAPP__LABELS__ZONE", "01"),
            ("METRICS_ADAPTER__SOURCES__MYAPP__PATH", "/y"),
            (
                "METRICS_ADAPTER__SOURCES__MYAPP__INCLUDE",
                r#"["a_x{1,3}", "b"]"#,
            ),
            ("METRICS_ADAPTER__PARSERS__DIRS", "/r1,/r2"),
        ],
    )
    .unwrap();
    assert_eq!(s.sources.len(), 1);
    assert_eq!(s.sources[0].name, "MyApp");
    assert_eq!(s.sources[0].source.describe(), "/y");
    assert_eq!(
        s.sources[0].labels,
        [("zone".to_string(), "01".to_string())]
    );
    assert_eq!(s.sources[0].include.len(), 2);
    assert!(s.sources[0].include[0].is_match("a_xxx"));
    assert_eq!(s.parser_dirs, [PathBuf::from("/r1"), PathBuf::from("/r2")]);
    let env_err = |var: &str, value: &str| load_str(file, &[(var, value)]).unwrap_err().to_string();
    assert_eq!(
        env_err("METRICS_ADAPTER__SOURCES__MYAPP__TIMEOUT", "soon"),
        "METRICS_ADAPTER__SOURCES__MYAPP__TIMEOUT: \"soon\" is not a positive duration like 500ms, 5s or 1m"
    );
    assert_eq!(
        env_err("METRICS_ADAPTER__SOURCES__MYAPP__MAX_BYTES", "lots"),
        "METRICS_ADAPTER__SOURCES__MYAPP__MAX_BYTES: \"lots\" is not a size: write bytes (65536) or a number and a unit: B, kB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024)"
    );
    assert_eq!(
        env_err("METRICS_ADAPTER__SERVER__MAX_CONNECTIONS", "lots"),
        "METRICS_ADAPTER__SERVER__MAX_CONNECTIONS: invalid type: string \"lots\", expected an integer"
    );
    assert_eq!(
        env_err("METRICS_ADAPTER__SOURCES__MYAPP__LABELS__BAD-NAME", "x"),
        "METRICS_ADAPTER__SOURCES__MYAPP__LABELS__BAD-NAME: \"bad-name\" is not a valid label name"
    );
    assert_eq!(
        env_err("METRICS_ADAPTER__RECIPES__X__FORMAT", "kv"),
        "METRICS_ADAPTER__RECIPES__X__FORMAT: inline recipes ([recipes.NAME]) are read from the file only, not the environment"
    );
    // A key that exists only because a variable named it, or a table only a variable made.
    assert_eq!(
        env_err("METRICS_ADAPTER__SERVER__LISTN", "x"),
        "METRICS_ADAPTER__SERVER__LISTN: unknown field `listn`, expected one of `listen`, `metrics_path`, `header_read_timeout`, `write_timeout`, `max_connections`, `max_connections_per_client`, `shutdown_timeout`, `web_config_file`"
    );
    assert_eq!(
        env_err("METRICS_ADAPTER__SERVR__LISTEN", "x"),
        "METRICS_ADAPTER__SERVR__LISTEN: unknown field `servr`, expected one of `server`, `log`, `parsers`, `sources`"
    );
    assert_eq!(
        env_err("METRICS_ADAPTER__SOURCES__MYAP__PATH", "/x"),
        "METRICS_ADAPTER__SOURCES__MYAP__PATH: sources.myap.type is missing: this variable made sources.myap, which the file does not have (check the name, or set its other keys too)"
    );
    // The same mistakes in the file name the file and key.
    assert_eq!(
        err("[sources.a]\ntype = 'file'\npath = '/x'\nparser = 'kv'\nmax_bytes = '64 kilobytes'\n")
            .rsplit_once("adapter.toml: ")
            .unwrap()
            .1,
        "sources.a.max_bytes: \"64 kilobytes\" is not a size: write bytes (65536) or a number and a unit: B, kB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024)"
    );
}

#[test]
fn sizes_take_units_from_file_and_environment() {
    let file = |size: &str| {
        format!("[sources.a]\ntype = 'file'\npath = '/x'\nparser = 'kv'\nmax_bytes = {size}\n")
    };
    for (written, bytes) in [
        ("65536", 65_536),
        ("'64KiB'", 65_536),
        ("\"1MB\"", 1_000_000),
        ("'1MiB'", 1_048_576),
    ] {
        assert_eq!(
            load_str(&file(written), &[]).unwrap().sources[0].max_bytes,
            bytes,
            "{written}"
        );
    }
    let s = load_str(
        &file("1"),
        &[("METRICS_ADAPTER__SOURCES__A__MAX_BYTES", "2MiB")],
    )
    .unwrap();
    assert_eq!(s.sources[0].max_bytes, 2 * 1024 * 1024);
    assert!(err(&file("0")).ends_with("sources.a.max_bytes: \"0\": must be at least 1 byte"));
    assert!(err(&file("true")).contains("max_bytes"));
}

#[test]
fn inline_recipes_are_taken_from_the_file() {
    let s = load_str(
        "[recipes.b]\ndescription = 'b'\nformat = 'kv'\n[recipes.a]\ndescription = 'a'\nformat = 'json'\n",
        &[],
    )
    .unwrap();
    let names: Vec<&str> = s.recipes.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(
        s.recipes[0].text,
        "description = \"a\"\nformat = \"json\"\n"
    );
    assert!(
        err("recipes = 1\n").ends_with("adapter.toml: recipes: a table of recipes: [recipes.NAME]")
    );
    assert!(err("[recipes]\nx = 1\n").ends_with(
        "adapter.toml: recipes.x: a recipe is a table: [recipes.NAME] with format, mapping..."
    ));
}

/// A kernel file has no writer to be stale, a followed log no read to be old: `max_age`
/// there is refused with the reason, not accepted and never used.
#[test]
fn max_age_is_refused_where_no_clock_can_tell() {
    let e = err(
        "[sources.m]\ntype = 'file'\npath = '/proc/meminfo'\nparser = 'meminfo'\nmax_age = '1m'\n",
    );
    assert!(
        e.ends_with(
            "adapter.toml: sources.m.max_age: /proc/meminfo is a kernel file (procfs, sysfs): \
             its text is made at each read and its mtime is not when its numbers changed, so \
             there is no writer to be stale; remove max_age"
        ),
        "{e}"
    );
    let e =
        err("[sources.t]\ntype = 'tail'\npath = '/x'\nparser = 'nginx_access'\nmax_age = 'off'\n");
    assert!(
        e.contains("sources.t.max_age: does not apply to a source of type tail"),
        "{e}"
    );
    let e = err("[sources.h]\ntype = 'http'\nurl = 'http://x/'\nparser = 'kv'\nmax_age = 'soon'\n");
    assert!(
        e.ends_with(
            "sources.h.max_age: \"soon\" is not a positive duration like 500ms, 5s or 1m, or \"off\""
        ),
        "{e}"
    );
    let ok =
        "[sources.m]\ntype = 'file'\npath = '/proc/meminfo'\nparser = 'meminfo'\nmax_age = 'off'\n";
    assert_eq!(load_str(ok, &[]).unwrap().sources[0].max_age, MaxAge::Off);
    let ok = "[sources.h]\ntype = 'http'\nurl = 'http://x/'\nparser = 'kv'\n";
    assert_eq!(load_str(ok, &[]).unwrap().sources[0].max_age, MaxAge::Auto);
}

#[test]
fn relabel_errors_name_file_rule_key_and_reason() {
    let source = "[sources.a]\ntype = 'file'\npath = '/x'\nparser = 'kv'\n";
    let e = err(&format!(
        "{source}[[sources.a.relabel]]\nsource_labels = ['x']\nregex = '('\ntarget_label = 'y'\n"
    ));
    assert!(
        e.contains("adapter.toml: sources.a.relabel[0].regex: "),
        "{e}"
    );
    assert!(e.contains("unclosed group"), "{e}");
    let e = err(&format!(
        "{source}[[sources.a.relabel]]\ntarget_label = 'y'\n[[sources.a.relabel]]\naction = 'nope'\n"
    ));
    assert!(
        e.contains("adapter.toml: sources.a.relabel[1].action: unknown action \"nope\"; one of replace, keep, drop"),
        "{e}"
    );
    let e = err(&format!(
        "{source}[[sources.a.relabel]]\nsource_labels = ['x']\n"
    ));
    assert!(
        e.ends_with(
            "sources.a.relabel[0].target_label: missing: action replace writes or compares a label"
        ),
        "{e}"
    );
    let e = err(&format!(
        "{source}[[sources.a.relabel]]\nsource_label = ['x']\n"
    ));
    assert!(e.contains("source_label"), "{e}");
}
