use super::*;

fn spec() -> RunSpec {
    RunSpec {
        name: "ts-notarysigner".into(),
        image: "localhost/trust-sandbox/notary:abc".into(),
        network: "ts".into(),
        hostname: "notarysigner".into(),
        aliases: vec!["notarysigner".into()],
        labels: vec![("io.trust-sandbox.instance".into(), "ts".into())],
        env: vec![
            EnvVar { name: "PLAIN".into(), value: "1".into(), secret: false },
            EnvVar { name: "NOTARY_SIGNER_SANDBOX".into(), value: "hunter2".into(), secret: true },
        ],
        mounts: vec![
            Mount::Volume { name: "ts-db".into(), target: "/var/lib/mysql".into() },
            Mount::Bind {
                source: "/s/ca.crt".into(),
                target: "/root/.docker/tls/notaryserver:4443/ca.crt".into(),
                readonly: true,
            },
            Mount::Tmpfs { target: "/run".into(), size_bytes: 16 << 20 },
        ],
        publish: vec![("127.0.0.1".into(), 14443, 4443)],
        cap_add: vec!["SYS_ADMIN".into()],
        security_opt: vec!["seccomp=unconfined".into()],
        restart: Some("unless-stopped".into()),
        command: vec!["notary-signer".into(), "-config".into(), "/etc/sandbox/signer.json".into()],
    }
}

#[test]
fn run_args_keep_secrets_off_argv() {
    let a = run_args(&spec());
    assert!(!a.iter().any(|s| s.contains("hunter2")), "{a:?}");
    let i = a.iter().position(|s| s == "NOTARY_SIGNER_SANDBOX").unwrap();
    assert_eq!(a[i - 1], "--env");
    assert!(a.contains(&"PLAIN=1".to_string()));
}

#[test]
fn run_args_publish_on_loopback_only_and_end_with_image_then_command() {
    let a = run_args(&spec());
    assert!(a.contains(&"127.0.0.1:14443:4443".to_string()));
    let img = a.iter().position(|s| s == "localhost/trust-sandbox/notary:abc").unwrap();
    assert_eq!(&a[img + 1..], ["notary-signer", "-config", "/etc/sandbox/signer.json"]);
    assert_eq!(&a[..2], ["run", "--detach"]);
    let r = a.iter().position(|s| s == "--restart").expect("a restart policy");
    assert_eq!(a[r + 1], "unless-stopped");
}

#[test]
fn mounts_use_mount_syntax_so_colons_in_targets_survive() {
    let a = run_args(&spec());
    assert!(a.contains(
        &"type=bind,source=/s/ca.crt,target=/root/.docker/tls/notaryserver:4443/ca.crt,readonly".to_string()
    ));
    assert!(a.contains(&"type=volume,source=ts-db,target=/var/lib/mysql".to_string()));
    assert!(a.contains(&"type=tmpfs,target=/run,tmpfs-size=16777216,tmpfs-mode=0755".to_string()));
}

#[test]
fn exec_args_name_env_without_values() {
    let a = exec_args("c", &["DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE"], Stdin::Piped, &["sh", "-c", "true"]);
    assert_eq!(a, ["exec", "--interactive", "--env", "DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE", "c", "sh", "-c", "true"]);
    assert_eq!(exec_args("c", &[], Stdin::Closed, &["true"]), ["exec", "c", "true"]);
    assert_eq!(
        exec_args("c", &["A"], Stdin::Terminal, &["bash", "-l"]),
        ["exec", "--interactive", "--tty", "--env", "A", "c", "bash", "-l"]
    );
}

#[test]
fn inspect_parses_docker_and_podman_shapes() {
    let docker = r#"[{"Id":"abc","Name":"/ts-db","Config":{"Image":"img","Labels":{"a":"b"}},"State":{"Status":"running","Running":true,"StartedAt":"t","Pid":42}}]"#;
    let podman = r#"[{"Id":"def","Name":"ts-db","Config":{"Image":"img","Labels":null},"State":{"Status":"exited","Running":false,"StartedAt":"t","Pid":0}}]"#;
    let d = parse_inspect(docker).unwrap();
    assert_eq!(d[0].name, "ts-db");
    assert!(d[0].running);
    assert_eq!(d[0].labels.get("a").map(String::as_str), Some("b"));
    let p = parse_inspect(podman).unwrap();
    assert_eq!(p[0].name, "ts-db");
    assert!(!p[0].running);
    assert!(p[0].labels.is_empty());
}

#[test]
fn inspect_reads_restarts_as_each_engine_reports_them() {
    // Measured: a client looping on a stale pid file, docker 20.10 and podman 4.3.
    let docker = r#"[{"Id":"a","Name":"/ts-client","RestartCount":12,"Config":{"Image":"i"},"State":{"Status":"restarting","Running":true,"Restarting":true,"Pid":0,"ExitCode":1}}]"#;
    let podman = r#"[{"Id":"b","Name":"ts-client","RestartCount":187,"Config":{"Image":"i"},"State":{"Status":"stopped","Running":false,"Restarting":false,"Pid":0,"ExitCode":1}}]"#;
    let d = &parse_inspect(docker).unwrap()[0];
    assert!(d.restarting && d.running, "docker keeps Running true while it restarts");
    assert_eq!((d.restart_count, d.exit_code, d.status.as_str()), (12, 1, "restarting"));
    let p = &parse_inspect(podman).unwrap()[0];
    assert!(!p.restarting && !p.running);
    assert_eq!((p.restart_count, p.exit_code), (187, 1));
}

#[test]
fn a_process_counts_as_the_containers_only_with_its_id_in_its_cgroup() {
    let me = std::process::id() as i64;
    assert!(!inspect::process_alive(me, "0123456789abcdef0123456789abcdef"), "this test is no container");
    assert!(!inspect::process_alive(i32::MAX as i64, "abc"), "no such process");
    assert!(inspect::process_alive(0, "abc"), "no pid: nothing proven");
}

#[test]
fn inspect_rejects_non_array() {
    assert!(parse_inspect("{}").is_err());
}

#[test]
fn only_podman_removes_at_once_by_flag() {
    let names = vec!["ts-client".to_string(), "ts-notarysigner".to_string()];
    assert_eq!(
        rm_args(EngineKind::Podman, &names, true),
        ["rm", "--force", "--volumes", "--time", "0", "ts-client", "ts-notarysigner"]
    );
    assert_eq!(
        rm_args(EngineKind::Podman, &names, false),
        ["rm", "--force", "--volumes", "ts-client", "ts-notarysigner"]
    );
    // docker's `rm --force` kills at once already, and knows no `--time`.
    assert_eq!(rm_args(EngineKind::Docker, &names, true), rm_args(EngineKind::Docker, &names, false));
}
