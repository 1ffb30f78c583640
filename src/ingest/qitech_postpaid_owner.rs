//! The inline owner of a QI Tech postpaid card (spec `qitech-postpaid.md` §6.4–6.7): a natural
//! person, or a company with one legal representative, each with phone and address.

use super::fields;
use super::qitech_postpaid::*;
use super::row::Row;
use crate::domain::{Cep, Cnpj, Cpf, Uf};

/// The columns describing one natural person: name, CPF, birthdate, e-mail, phone country,
/// area and number, then the address group.
struct PersonCols {
    name: usize,
    document_number: usize,
    birthdate: usize,
    email: usize,
    phone: [usize; 3],
    address: AddressCols,
}

const OWNER: PersonCols = PersonCols {
    name: OWNER_NAME,
    document_number: OWNER_DOCUMENT_NUMBER,
    birthdate: OWNER_BIRTHDATE,
    email: OWNER_EMAIL,
    phone: [
        OWNER_PHONE_COUNTRY_CODE,
        OWNER_PHONE_AREA_CODE,
        OWNER_PHONE_NUMBER,
    ],
    address: [
        OWNER_STREET,
        OWNER_NUMBER,
        OWNER_NEIGHBORHOOD,
        OWNER_POSTAL_CODE,
        OWNER_CITY,
        OWNER_STATE,
        OWNER_COMPLEMENT,
    ],
};

const REP: PersonCols = PersonCols {
    name: REP_NAME,
    document_number: REP_DOCUMENT_NUMBER,
    birthdate: REP_BIRTHDATE,
    email: REP_EMAIL,
    phone: [
        REP_PHONE_COUNTRY_CODE,
        REP_PHONE_AREA_CODE,
        REP_PHONE_NUMBER,
    ],
    address: [
        REP_STREET,
        REP_NUMBER,
        REP_NEIGHBORHOOD,
        REP_POSTAL_CODE,
        REP_CITY,
        REP_STATE,
        REP_COMPLEMENT,
    ],
};

/// The owner described by the `owner_*` (and, for a company, `rep_*`) columns.
pub(crate) fn owner<'a>(row: &mut Row<'a>) -> Option<PostpaidOwner<'a>> {
    let person_type = row.req(OWNER_PERSON_TYPE, |s| {
        fields::one_of(s, &["natural", "legal"])
    });
    match person_type? {
        "natural" => {
            for col in [OWNER_TRADING_NAME, OWNER_FOUNDATION_DATE] {
                row.forbid(col, "for a natural person");
            }
            for col in REP_NAME..=REP_COMPLEMENT {
                row.forbid(
                    col,
                    "for a natural person (legal representatives are for companies)",
                );
            }
            let mut person = natural(row, &OWNER);
            let addr = address(row, OWNER.address);
            if let Some(p) = person.as_mut() {
                p.address = Some(addr?);
            }
            person
        }
        _ => legal(row),
    }
}

/// A company owner with its one legal representative.
fn legal<'a>(row: &mut Row<'a>) -> Option<PostpaidOwner<'a>> {
    row.forbid(
        OWNER_BIRTHDATE,
        "for a legal person (use owner_foundation_date)",
    );
    let name = row.req(OWNER_NAME, |s| fields::text(s, 100));
    let trading_name = row.req(OWNER_TRADING_NAME, |s| fields::text(s, 100));
    let cnpj = row.req(OWNER_DOCUMENT_NUMBER, Cnpj::parse);
    let today = row.clock.today;
    let foundation = row.req(OWNER_FOUNDATION_DATE, |s| {
        fields::past_date(s, today).map(|_| s)
    });
    let email = row.req(OWNER_EMAIL, fields::email);
    let phone = phone(row, OWNER.phone);
    let addr = address(row, OWNER.address);
    // The spec leaves the representative's schema open; the inference (and the sandbox) is a
    // natural-person owner's, whose address is required.
    let rep = if (REP_NAME..=REP_COMPLEMENT).any(|c| row.get(c).is_some()) {
        let person = natural(row, &REP);
        let address = address(row, REP.address);
        person.zip(address).map(|(mut r, a)| {
            r.address = Some(a);
            r
        })
    } else {
        row.fail(
            REP_NAME,
            "a legal owner needs one legal representative: fill the rep_* columns",
        );
        None
    };
    Some(PostpaidOwner {
        person_type: "legal",
        name: name?,
        trading_name: Some(trading_name?),
        document_number: cnpj?.into_string(),
        birthdate: None,
        foundation_date: Some(foundation?),
        email: email?,
        phone: phone?,
        address: Some(addr?),
        legal_representatives: vec![rep?],
    })
}

/// A natural person's identity and contact (no address).
fn natural<'a>(row: &mut Row<'a>, cols: &PersonCols) -> Option<PostpaidOwner<'a>> {
    let name = row.req(cols.name, |s| fields::person_name(s, 100));
    let cpf = row.req(cols.document_number, Cpf::parse);
    let today = row.clock.today;
    let birthdate = row.req(cols.birthdate, |s| fields::past_date(s, today).map(|_| s));
    let email = row.req(cols.email, fields::email);
    let phone = phone(row, cols.phone);
    Some(PostpaidOwner {
        person_type: "natural",
        name: name?,
        trading_name: None,
        document_number: cpf?.into_string(),
        birthdate: Some(birthdate?),
        foundation_date: None,
        email: email?,
        phone: phone?,
        address: None,
        legal_representatives: Vec::new(),
    })
}

/// Country code (2–3 digits), area code (2 digits), number (8–9 digits, dashes allowed).
fn phone<'a>(row: &mut Row<'a>, [country, area, number]: [usize; 3]) -> Option<PostpaidPhone<'a>> {
    let country_code = row.req(country, |s| {
        fields::digits(s.trim_start_matches('+'), 2, 3, false)
    });
    let area_code = row.req(area, |s| fields::digits(s, 2, 2, false));
    let number = row.req(number, |s| fields::digits(s, 8, 9, true));
    Some(PostpaidPhone {
        number: number?,
        area_code: area_code?,
        country_code: country_code?,
    })
}

/// An address group (§6.7): every field required except the complement.
pub(crate) fn address<'a>(row: &mut Row<'a>, cols: AddressCols) -> Option<PostpaidAddress<'a>> {
    let [
        street,
        number,
        neighborhood,
        postal_code,
        city,
        state,
        complement,
    ] = cols;
    let street = row.req(street, |s| fields::text(s, 500));
    let number = row.req(number, |s| fields::text(s, 10));
    let neighborhood = row.req(neighborhood, |s| fields::text(s, 100));
    let postal_code = row.req(postal_code, Cep::parse);
    let city = row.req(city, |s| fields::text(s, 100));
    let state = row.req(state, Uf::parse_or_abroad);
    let complement = row.opt(complement, |s| fields::text(s, 500));
    Some(PostpaidAddress {
        street: street?,
        number: number?,
        neighborhood: neighborhood?,
        postal_code: postal_code?.into_string(),
        city: city?,
        state: state?.as_str(),
        complement,
    })
}
