//! Schedule files: the examples in `jobs/` and the mistakes a file can make.

use super::*;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn config_with_jobs(mut config: Config, dir: &Path) -> Config {
    config.jobs_dir = dir.to_path_buf();
    config
}

#[test]
fn the_example_schedules_are_valid_against_the_example_config_and_the_builtin_one() {
    let text = std::fs::read_to_string(repo("examples/cardbatch.toml")).unwrap();
    let example = Config::from_toml_str(&text).unwrap();
    for config in [example, Config::builtin()] {
        let config = config_with_jobs(config, &repo("jobs"));
        let schedules = load_all(&config).unwrap();
        for s in &schedules {
            // Switched off, so not checked at load: check their profiles here.
            assert!(config.profile(&s.profile).is_ok(), "{}", s.name);
        }
        let names: Vec<&str> = schedules.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["erp_card_requests", "nightly_csv_drop"]);
        let csv = &schedules[1];
        assert!(
            matches!(&csv.source, Source::Csv { glob, archive_dir: Some(_), .. } if glob == "drop/*.csv")
        );
        assert_eq!(csv.cadence.timezone(), "America/Sao_Paulo");
        let db = &schedules[0];
        let Source::Database(source) = &db.source else {
            panic!("a database source")
        };
        assert_eq!(source.cursor.as_deref(), Some("id"));
        assert!(source.query.contains("AS order_ref"));
        assert_eq!(db.source.describe(), "query on $ERP_DATABASE_URL");
    }
}

fn load(toml: &str) -> Result<Schedule, ScheduleError> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("nightly.toml");
    std::fs::write(&file, toml).unwrap();
    load_file(&file, &config_with_jobs(Config::builtin(), dir.path()))
}

#[test]
fn defaults_are_utc_latest_enabled_and_no_limit() {
    let s = load("cron = \"0 2 * * *\"\nprofile = \"uqpay\"\n[source]\ncsv = \"*.csv\"\n").unwrap();
    assert_eq!(s.name, "nightly");
    assert_eq!(s.cadence.timezone(), "UTC");
    assert_eq!(s.catch_up, CatchUp::Latest);
    assert!(s.enabled && !s.skip_invalid);
    assert_eq!(s.max_orders, None);
}

#[test]
fn a_schedule_file_names_its_mistake() {
    for (toml, expected) in [
        (
            "cron = \"0 2 * *\"\nprofile = \"uqpay\"\n[source]\ncsv = \"*.csv\"\n",
            "4 fields",
        ),
        (
            "cron = \"0 2 * * *\"\ntimezone = \"Brazil/Nowhere\"\nprofile = \"uqpay\"\n[source]\ncsv = \"*.csv\"\n",
            "IANA",
        ),
        (
            "cron = \"0 2 * * *\"\nprofile = \"nope\"\n[source]\ncsv = \"*.csv\"\n",
            "profiles.nope",
        ),
        (
            "cron = \"0 2 * * *\"\nprofile = \"uqpay\"\n[source]\n",
            "exactly one of",
        ),
        (
            "cron = \"0 2 * * *\"\nprofile = \"uqpay\"\n[source]\ncsv = \"*.csv\"\ndatabase_url = \"sqlite://x.db\"\nquery = \"SELECT 1\"\n",
            "exactly one of",
        ),
        (
            "cron = \"0 2 * * *\"\nprofile = \"uqpay\"\n[source]\ndatabase_url = \"sqlite://x.db\"\n",
            "needs a query",
        ),
        (
            "cron = \"0 2 * * *\"\nprofile = \"uqpay\"\n[source]\ndatabase_url = \"mysql://u:pw@h/db\"\nquery = \"SELECT 1\"\n",
            "must start with",
        ),
        (
            "cron = \"0 2 * * *\"\nprofile = \"uqpay\"\ncatch_up = \"some\"\n[source]\ncsv = \"*.csv\"\n",
            "catch_up",
        ),
        (
            "cron = \"0 2 * * *\"\nprofile = \"uqpay\"\nmax_orders = 0\n[source]\ncsv = \"*.csv\"\n",
            "max_orders",
        ),
        (
            "cron = \"0 2 * * *\"\nprofile = \"uqpay\"\ncolour = \"red\"\n[source]\ncsv = \"*.csv\"\n",
            "colour",
        ),
    ] {
        let error = load(toml).unwrap_err().to_string();
        assert!(error.contains("nightly.toml"), "{error}");
        assert!(error.contains(expected), "{expected}: {error}");
        assert!(!error.contains("u:pw"), "{error}");
    }
}

#[test]
fn a_missing_jobs_directory_holds_no_schedule() {
    let config = config_with_jobs(Config::builtin(), Path::new("/nonexistent/cardbatch/jobs"));
    assert!(load_all(&config).unwrap().is_empty());
    let error = load_one(&config, "nightly").unwrap_err().to_string();
    assert!(error.contains("no such schedule"), "{error}");
}
