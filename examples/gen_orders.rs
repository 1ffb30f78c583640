//! Writes a CSV of valid card orders for one provider, for benchmarks and demos.
//!
//! ```text
//! cargo run --release --example gen_orders -- --provider uqpay --rows 1000000 -o /tmp/orders.csv
//! ```
//!
//! Every row is valid for the built-in sandbox profile (fixture keys from
//! `crates/sandbox/src/fixtures.toml`), and `order_ref`s are `<prefix>-<n>`, unique within a run; pass a
//! new `--prefix` to ingest the same volume again into one database. Output is seeded, so the same
//! arguments give the same file.

use anyhow::Context;
use cardbatch::domain::{Cpf, ProviderKind, Uf};
use clap::Parser;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::io::{BufWriter, Write};
use std::path::PathBuf;

#[derive(Parser)]
#[command(about = "Write a CSV of valid card orders for one provider")]
struct Args {
    /// qitech_prepaid, qitech_postpaid, alchemypay_vcc or uqpay.
    #[arg(long)]
    provider: ProviderKind,
    /// How many orders to write.
    #[arg(long, default_value_t = 1000)]
    rows: u64,
    /// Output file; `-` for standard output.
    #[arg(short = 'o', long, default_value = "-")]
    output: PathBuf,
    /// Prefix of every order_ref (`<prefix>-<n>`).
    #[arg(long, default_value = "gen")]
    prefix: String,
    /// Use `;` instead of `,` as the delimiter (and `,` as the decimal separator).
    #[arg(long)]
    semicolon: bool,
    /// Seed of the generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

const FIRST: &[&str] = &[
    "Ana", "Bruno", "Camila", "Diego", "Eduarda", "Felipe", "Gabriela", "Heitor", "Isabela",
    "Joao", "Larissa", "Mateus", "Natalia", "Otavio", "Patricia", "Rafael", "Sofia", "Thiago",
    "Vitoria",
];
const LAST: &[&str] = &[
    "Silva",
    "Santos",
    "Oliveira",
    "Souza",
    "Rodrigues",
    "Ferreira",
    "Alves",
    "Pereira",
    "Lima",
    "Gomes",
    "Costa",
    "Ribeiro",
    "Martins",
    "Carvalho",
    "Almeida",
    "Araujo",
    "Barbosa",
    "Rocha",
];
const CITIES: &[(&str, &str, &str)] = &[
    ("São Paulo", "SP", "01310100"),
    ("Rio de Janeiro", "RJ", "20040002"),
    ("Belo Horizonte", "MG", "30130010"),
    ("Curitiba", "PR", "80010000"),
    ("Porto Alegre", "RS", "90010150"),
    ("Salvador", "BA", "40020000"),
    ("Recife", "PE", "50030230"),
    ("Fortaleza", "CE", "60060440"),
];
const CARDHOLDERS: &[&str] = &[
    "25ea804d-7fd5-43d5-8792-0fc0214cdb2f",
    "3b1f6a2c-9d4e-4c8b-a7f5-0e2d1c3b4a59",
    "4c2a7b3d-0e5f-4d9c-b8a6-1f3e2d4c5b6a",
    "5d3b8c4e-1f6a-4ead-89b7-2a4f3e5d6c7b",
];
const ACCOUNT: &str = "5294ed8d-08fc-4397-b15f-6d9aa07b0041";
const PROGRAM: &str = "7d405c31-ec9a-46c1-8ac8-54bab209bf41";
const WALLET: &str = "3f9a7c2e-1b4d-4e8f-9a6c-5d2e8b7f1a30";
const PRODUCT: &str = "467e993f-317a-49fc-9ea0-bf49de7d1f76";

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let out: Box<dyn Write> = if args.output.as_os_str() == "-" {
        Box::new(std::io::stdout().lock())
    } else {
        Box::new(
            std::fs::File::create(&args.output)
                .with_context(|| format!("cannot create {}", args.output.display()))?,
        )
    };
    let mut out = BufWriter::with_capacity(1 << 20, out);
    let mut rng = StdRng::seed_from_u64(args.seed);
    let d = if args.semicolon { ';' } else { ',' };
    let dec = if args.semicolon { ',' } else { '.' };
    let header = match args.provider {
        ProviderKind::QitechPrepaid => {
            "order_ref,account_key,program_key,type,printed_name,cvv_rotation_interval_hours"
        }
        ProviderKind::QitechPostpaid => {
            "order_ref,wallet_key,owner_person_type,owner_name,owner_document_number,owner_birthdate,owner_email,owner_phone_country_code,owner_phone_area_code,owner_phone_number,owner_street,owner_number,owner_neighborhood,owner_postal_code,owner_city,owner_state,limit_amount,card_type,card_name,printed_name,cvv_rotation_interval_hours"
        }
        ProviderKind::AlchemypayVcc => "order_ref,first_name,last_name,deposit,currency,vid",
        ProviderKind::Uqpay => {
            "order_ref,cardholder_id,card_product_id,card_currency,card_limit,spending_limit_amount,spending_limit_interval"
        }
    };
    writeln!(out, "{}", header.replace(',', &d.to_string()))?;
    for n in 1..=args.rows {
        let first = FIRST[rng.random_range(0..FIRST.len())];
        let last = LAST[rng.random_range(0..LAST.len())];
        let r = &args.prefix;
        match args.provider {
            ProviderKind::QitechPrepaid => {
                let hours = [24, 48, 72][rng.random_range(0..3)];
                writeln!(
                    out,
                    "{r}-{n}{d}{ACCOUNT}{d}{PROGRAM}{d}virtual{d}{first} {last}{d}{hours}"
                )?;
            }
            ProviderKind::QitechPostpaid => {
                let cpf = loop {
                    // A CPF of nine equal digits is invalid although its check digits add up.
                    let base: [u8; 9] = rng.random();
                    if base.iter().any(|b| b % 10 != base[0] % 10) {
                        break Cpf::from_base(base);
                    }
                };
                let (city, uf, cep) = CITIES[rng.random_range(0..CITIES.len())];
                debug_assert!(Uf::parse(uf).is_ok());
                let year = rng.random_range(1950..2005);
                let month = rng.random_range(1..=12);
                let day = rng.random_range(1..=28);
                let phone = rng.random_range(910_000_000..999_999_999u32);
                let area = rng.random_range(11..=99);
                let number = rng.random_range(1..3000);
                let limit = rng.random_range(500..20_000);
                let email = format!(
                    "{}.{}{n}@example.com",
                    first.to_lowercase(),
                    last.to_lowercase()
                );
                let cpf = cpf.as_str();
                writeln!(
                    out,
                    "{r}-{n}{d}{WALLET}{d}natural{d}{first} {last}{d}{cpf}{d}{year}-{month:02}-{day:02}{d}{email}{d}55{d}{area}{d}{phone}{d}Rua das Flores{d}{number}{d}Centro{d}{cep}{d}{city}{d}{uf}{d}{limit}{dec}00{d}virtual{d}Cartão {first}{d}{first} {last}{d}24"
                )?;
            }
            ProviderKind::AlchemypayVcc => {
                let deposit = rng.random_range(1_000..=500_000);
                let (units, cents) = (deposit / 100, deposit % 100);
                writeln!(
                    out,
                    "{r}-{n}{d}{first}{d}{last}{d}{units}{dec}{cents:02}{d}USD{d}USD"
                )?;
            }
            ProviderKind::Uqpay => {
                let holder = CARDHOLDERS[rng.random_range(0..CARDHOLDERS.len())];
                let limit = rng.random_range(100..10_000);
                let spend = rng.random_range(10..100);
                writeln!(
                    out,
                    "{r}-{n}{d}{holder}{d}{PRODUCT}{d}USD{d}{limit}{dec}00{d}{spend}{dec}50{d}DAILY"
                )?;
            }
        }
    }
    out.flush()?;
    Ok(())
}
