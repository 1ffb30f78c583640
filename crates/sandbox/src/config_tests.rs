use super::*;

mod basics {
    use super::*;

    #[test]
    fn a_config_file_with_every_key_loads_and_fills_in_dev_credentials() {
        let text = r#"
            seed = 42
            time_scale = 0.01
            fixtures = "my-fixtures.toml"
            [providers.uqpay]
            webhook_url = "http://127.0.0.1:8080/webhooks/uqpay"
            webhook_secret = "whsec"
            credentials = { "uqpay-sandbox-client" = "k" }
            lifecycle_delay_ms = 2000
            failure_rate = 0.1
            [providers.uqpay.faults]
            transient_error_rate = 0.05
            rate_limit_per_minute = 500
            [providers.alchemypay_vcc.options]
            check_url = "http://127.0.0.1:8080/alchemypay/check"
        "#;
        let config: SandboxConfig = toml::from_str(text).unwrap();
        config.validate().unwrap();
        assert_eq!(
            config
                .provider(ProviderKind::Uqpay)
                .faults
                .rate_limit_per_minute,
            Some(500)
        );
        let alchemy = config.provider(ProviderKind::AlchemypayVcc);
        assert_eq!(
            alchemy.credentials[DEV_ALCHEMYPAY_ACCESS_KEY],
            DEV_ALCHEMYPAY_SECRET_KEY
        );
        assert!(alchemy.options["check_url"].ends_with("/check"));
    }

    #[test]
    fn an_unknown_provider_or_a_bad_rate_is_refused_with_its_key() {
        let bad: SandboxConfig = toml::from_str("[providers.visa]").unwrap();
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("providers.visa")
        );
        let bad: SandboxConfig =
            toml::from_str("[providers.uqpay.faults]\nwebhook_drop_rate = 3.0").unwrap();
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("webhook_drop_rate")
        );
        assert!(
            toml::from_str::<SandboxConfig>("sed = 1").is_err(),
            "typos are refused"
        );
    }
}

mod callbacks {
    use super::*;

    #[test]
    fn with_no_file_or_an_empty_one_every_callback_goes_to_cardbatchs_default_routes() {
        let empty: SandboxConfig = toml::from_str("").unwrap();
        let none = SandboxConfig::load(None).unwrap();
        assert_eq!(empty, none);
        assert_eq!(none, SandboxConfig::standalone());

        let cases = [
            (ProviderKind::Uqpay, "http://127.0.0.1:8080/webhooks/uqpay"),
            (
                ProviderKind::QitechPrepaid,
                "http://127.0.0.1:8080/webhooks/qitech",
            ),
            (
                ProviderKind::QitechPostpaid,
                "http://127.0.0.1:8080/webhooks/qitech",
            ),
        ];
        for (kind, url) in cases {
            assert_eq!(
                none.provider(kind).webhook_url.as_deref(),
                Some(url),
                "{kind}"
            );
        }
        let alchemy = none.provider(ProviderKind::AlchemypayVcc);
        assert_eq!(
            alchemy.webhook_url, None,
            "callbacks go to each callbackUrl"
        );
        assert_eq!(
            alchemy.options["check_url"],
            "http://127.0.0.1:8080/alchemypay/create-check"
        );
    }

    #[test]
    fn named_urls_win_and_an_empty_cardbatch_url_or_an_in_process_default_calls_nobody() {
        let text = r#"
            cardbatch_url = "http://127.0.0.1:9999/"
            [providers.uqpay]
            webhook_url = "http://127.0.0.1:1234/hooks"
        "#;
        let config: SandboxConfig = toml::from_str(text).unwrap();
        let off: SandboxConfig = toml::from_str(r#"cardbatch_url = """#).unwrap();

        assert_eq!(
            config.provider(ProviderKind::Uqpay).webhook_url.as_deref(),
            Some("http://127.0.0.1:1234/hooks")
        );
        assert_eq!(
            config
                .provider(ProviderKind::QitechPrepaid)
                .webhook_url
                .as_deref(),
            Some("http://127.0.0.1:9999/webhooks/qitech")
        );
        for quiet in [off, SandboxConfig::default()] {
            quiet.validate().unwrap();
            for kind in ProviderKind::ALL {
                let settings = quiet.provider(kind);
                assert_eq!(settings.webhook_url, None, "{kind}");
                assert!(!settings.options.contains_key("check_url"), "{kind}");
            }
        }
    }

    #[test]
    fn a_cardbatch_url_that_is_not_http_is_refused_with_its_key() {
        let bad: SandboxConfig = toml::from_str(r#"cardbatch_url = "127.0.0.1:8080""#).unwrap();

        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("cardbatch_url")
        );
    }

    #[test]
    fn the_dev_qitech_api_key_is_the_first_of_the_builtin_fixtures() {
        let fixtures = crate::Fixtures::builtin();

        assert_eq!(fixtures.qitech.api_client_keys[0], DEV_QITECH_API_KEY);
    }
}

mod example_file {
    use super::*;

    #[test]
    fn the_annotated_example_sandbox_config_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/sandbox.toml");
        let config = SandboxConfig::load(Some(&path)).unwrap();
        assert_eq!(config.seed, 42);
        let uqpay = &config.providers["uqpay"];
        assert_eq!(uqpay.faults.rate_limit_per_minute, Some(500));
        assert!((uqpay.faults.lost_response_rate - 0.05).abs() < 1e-9);
    }
}
