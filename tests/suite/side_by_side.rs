//! The longest real scenarios, each a function of its own module, run at
//! once in groups: each waits on real seconds (a watch of 10 s, a
//! server under load), so side by side they cost the suite the time of the
//! longest, also when the tests run one at a time. A failed scenario names
//! itself; its own panic message is printed above.

/// Runs every scenario in a thread of its own; fails naming those that did.
fn together(scenarios: &[(&'static str, fn())]) {
    let running: Vec<_> = scenarios
        .iter()
        .map(|(name, f)| (*name, std::thread::spawn(*f)))
        .collect();
    let failed: Vec<&str> = running
        .into_iter()
        .filter_map(|(name, h)| h.join().is_err().then_some(name))
        .collect();
    assert!(failed.is_empty(), "failed: {failed:?}");
}

#[test]
fn the_ci_smoke_check_the_soak_and_pss_of_a_large_process() {
    together(&[
        (
            "examples::ci_smoke",
            crate::examples::ci_smoke_fails_on_the_leaking_server_and_passes_on_the_fixed_one,
        ),
        (
            "watch::soak",
            crate::watch::leakwatch_does_not_leak_itself_and_a_steady_child_is_a_plateau,
        ),
        (
            "metrics::large_pss",
            crate::metrics::pss_of_a_large_process_is_read_at_most_one_percent_of_the_time,
        ),
        (
            "metrics::socket_server",
            crate::metrics::the_socket_leaking_server_is_caught_on_fds,
        ),
        (
            "watch::leaking_child",
            crate::watch::a_leaking_child_is_leaking_at_its_rate,
        ),
    ]);
}

#[test]
fn a_scan_of_every_shape_follows_cgroups_and_the_articles_repeat() {
    together(&[
        (
            "scan::every_shape",
            crate::scan::every_shape_at_once_gets_its_own_right_verdict,
        ),
        (
            "cgroups::follow",
            crate::cgroups::follow_goes_on_with_a_cgroups_or_a_names_next_process,
        ),
        (
            "cgroups::watch_and_scan",
            crate::cgroups::a_cgroup_watch_judges_its_memory_and_a_scan_every_leaf_with_processes,
        ),
        (
            "repeat::article",
            crate::repeat::the_articles_server_leaks_per_connection_and_the_fixed_one_does_not,
        ),
    ]);
}

#[test]
fn a_real_prometheus_scrapes_a_watch_a_scan_and_a_fleet_and_refuses_a_1ns_step() {
    together(&[
        (
            "prometheus::scrapes",
            crate::prometheus::prometheus_scrapes_the_verdict_of_a_listen_watch_and_of_every_target_of_a_scan,
        ),
        (
            "fleet::two_passes_and_alert",
            crate::fleet::fleet_judges_every_series_and_group_twice_and_its_group_alert_fires,
        ),
        (
            "prom_hostile::step_1ns",
            crate::prom_hostile::prom_hostile_step_1ns_against_a_real_prometheus_ends_at_once,
        ),
    ]);
}

#[test]
fn metrics_endpoints_textfiles_fifos_fds_churn_and_background_runs() {
    together(&[
        (
            "listen::slow_clients",
            crate::listen::a_client_that_never_reads_or_never_sends_delays_no_other_scrape,
        ),
        (
            "listen::out_of_descriptors",
            crate::listen::out_of_descriptors_is_said_once_and_serving_resumes,
        ),
        (
            "textfile::planted",
            crate::textfile::a_fifo_or_symlink_planted_at_the_old_temporary_name_is_harmless,
        ),
        (
            "metrics::fds_and_threads",
            crate::metrics::an_fd_leak_with_flat_memory_is_leaking_on_fds_only_and_threads_on_threads,
        ),
        (
            "scan::churn_and_logs",
            crate::scan::joiners_and_exits_are_reported_and_each_target_gets_a_log,
        ),
        (
            "repeat::background",
            crate::repeat::what_a_run_starts_in_the_background_ends_with_the_run,
        ),
    ]);
}
