//! QI Tech's error envelope `{title, description, translation, code, extra_fields}` and the
//! catalogue of codes the sandbox answers, with their HTTP statuses and texts as documented.

use serde_json::{Map, Value, json};

/// One QI error answer: an HTTP status and the documented envelope fields.
#[derive(Debug, Clone, PartialEq)]
pub struct QiError {
    /// HTTP status code.
    pub status: u16,
    /// QI code, e.g. `CARD000007`.
    pub code: &'static str,
    /// Short English title, e.g. `Bad Request`.
    pub title: &'static str,
    /// English description (placeholders filled in).
    pub description: String,
    /// Portuguese text.
    pub translation: String,
    /// Extra fields (empty unless a fault or config flag adds some).
    pub extra_fields: Map<String, Value>,
}

impl QiError {
    fn new(
        status: u16,
        code: &'static str,
        title: &'static str,
        description: String,
        translation: String,
    ) -> Self {
        QiError {
            status,
            code,
            title,
            description,
            translation,
            extra_fields: Map::new(),
        }
    }

    /// The JSON envelope as QI sends it (plain for v2, the claims of `encoded_body` for v1).
    pub fn envelope(&self) -> Value {
        json!({
            "title": self.title,
            "description": self.description,
            "translation": self.translation,
            "code": self.code,
            "extra_fields": self.extra_fields,
        })
    }

    /// Adds `extra_fields`.
    pub fn with_extra_fields(mut self, extra: Map<String, Value>) -> Self {
        self.extra_fields = extra;
        self
    }

    // ---------------------------------------------------------------- authentication (§3.4)

    /// 400 GDF000003: the request has no `API-CLIENT-KEY` header.
    pub fn no_api_client_key() -> Self {
        Self::new(
            400,
            "GDF000003",
            "Bad Request",
            "No API Client Key received".into(),
            "Nenhuma API Client Key recebida".into(),
        )
    }

    /// 404 GDF000018: the `API-CLIENT-KEY` is not one the sandbox knows.
    pub fn unknown_api_client_key(key: &str) -> Self {
        Self::new(
            404,
            "GDF000018",
            "Not Found",
            format!("No ClientIntegration found for api_client_key: {key}."),
            format!("Nenhuma ClientIntegration encontrada para api_client_key: {key}."),
        )
    }

    /// 401 GDF000014: the token is missing, malformed, forged or stale. `detail` says which
    /// check failed, after the documented text.
    pub fn unauthenticated(detail: &str) -> Self {
        Self::new(
            401,
            "GDF000014",
            "QI Unauthenticated",
            format!(
                "Please provide valid credentials as part of the request. (Documentation: https://qitech.com.br/documentation) Details: Failed while decoding the authentication token ({detail})"
            ),
            "Por favor, forneça credenciais válidas como parte da requisição. Detalhes: Falha ao decodificar o token de autenticação".into(),
        )
    }

    // ---------------------------------------------------------------- shared

    /// 400 QIT000001: the body does not match the schema. `detail` names the field.
    pub fn schema(detail: &str) -> Self {
        let mut e = Self::new(
            400,
            "QIT000001",
            "Bad Request",
            "Schema Error".into(),
            "Schema Inválido".into(),
        );
        e.extra_fields
            .insert("detail".into(), Value::String(detail.to_string()));
        e
    }

    /// 429 QIT000429 (synthetic: QI documents no rate limit, see the module doc).
    pub fn rate_limited() -> Self {
        Self::new(
            429,
            "QIT000429",
            "Too Many Requests",
            "Rate limit exceeded, retry later.".into(),
            "Limite de requisições excedido, tente novamente mais tarde.".into(),
        )
    }

    /// 500 QIT000500 (synthetic), for an injected 5xx fault.
    pub fn internal() -> Self {
        Self::new(
            500,
            "QIT000500",
            "Internal Server Error",
            "Internal Server Error".into(),
            "Erro interno".into(),
        )
    }

    // ---------------------------------------------------------------- prepaid card (§6.4)

    /// 404 CARD000005: unknown program.
    pub fn program_not_found(program_key: &str) -> Self {
        Self::new(
            404,
            "CARD000005",
            "Not Found",
            format!("It was not possible to fetch the Program for the program_key {program_key}."),
            "Programa não encontrado".into(),
        )
    }

    /// 404 CARD000006: unknown account.
    pub fn account_not_found(account_key: &str) -> Self {
        Self::new(
            404,
            "CARD000006",
            "Not Found",
            format!("It was not possible to fetch the Account for the account_key {account_key}."),
            "Conta não encontrada".into(),
        )
    }

    /// 400 CARD000007: the account owner's person type is not allowed by the program.
    pub fn invalid_person_type() -> Self {
        Self::new(
            400,
            "CARD000007",
            "Bad Request",
            "The type of person is invalid for this program, please try another.".into(),
            "Invalid Person".into(),
        )
    }

    /// 400 CARD000008: the card holder is in a status that forbids issuing.
    pub fn invalid_holder_status(status: &str) -> Self {
        Self::new(
            400,
            "CARD000008",
            "Bad Request",
            format!("The Card Holder with the status {status} is invalid for the operation."),
            "Portador com status inválido".into(),
        )
    }

    /// 400 CARD000009: transient card generation failure (injected fault).
    pub fn card_not_generated() -> Self {
        Self::new(
            400,
            "CARD000009",
            "Bad Request",
            "We're sorry, but the card could not be generated. Please try again later.".into(),
            "Não foi possível gerar o cartão. Tente novamente mais tarde.".into(),
        )
    }

    /// 404 CARD000010: the account owner person does not exist.
    pub fn person_not_found(owner_person_key: &str) -> Self {
        Self::new(
            404,
            "CARD000010",
            "Not Found",
            format!(
                "It was not possible to fetch the Person for the person_key {owner_person_key}."
            ),
            "Pessoa não encontrada".into(),
        )
    }

    /// 404 CARD000011: unknown card.
    pub fn card_not_found(card_key: &str) -> Self {
        Self::new(
            404,
            "CARD000011",
            "Not Found",
            format!("It was not possible to fetch the Card for the card_key {card_key}."),
            "Not Found Card".into(),
        )
    }

    /// 400 CARD000012 on a PCI read: the card has no data to give yet ([inferred] meaning: the
    /// code is documented for the PCI reads, its text is not).
    pub fn pci_unavailable(status: &str) -> Self {
        Self::new(
            400,
            "CARD000012",
            "Bad Request",
            format!("The card data is not available for a card in status {status}."),
            "Dados do cartão indisponíveis".into(),
        )
    }

    /// 406 CARD000013: the status change is not allowed from the current status.
    pub fn transition_not_allowed(old: &str, new: &str) -> Self {
        Self::new(
            406,
            "CARD000013",
            "Not Acceptable",
            format!("Unable to transition from {old} to {new}."),
            "Unable to transition".into(),
        )
    }

    /// 406 CARD000014: the card's status (a terminated one) allows no operation.
    pub fn invalid_for_status(status: &str) -> Self {
        Self::new(
            406,
            "CARD000014",
            "Not Acceptable",
            format!("The operation is not valid for the current status of the card [{status}]."),
            "Unable to transition".into(),
        )
    }

    /// 403 CARD000032: the program does not allow virtual cards.
    pub fn virtual_not_allowed(program_key: &str) -> Self {
        Self::new(
            403,
            "CARD000032",
            "Forbidden",
            format!("Create virtual card is not allowed for program_key {program_key}."),
            "Criação de cartão virtual não permitida".into(),
        )
    }

    // ---------------------------------------------------------------- postpaid instrument (§6.10)

    /// 404 CIN000062: unknown `person_key`.
    pub fn cin_person_not_found(person_key: &str) -> Self {
        Self::new(
            404,
            "CIN000062",
            "Not Found",
            format!("Person not found by person key: {person_key}"),
            format!("Pessoa não encontrada para a person key: {person_key}"),
        )
    }

    /// 404 CIN000007: unknown wallet.
    pub fn wallet_not_found(wallet_key: &str) -> Self {
        Self::new(
            404,
            "CIN000007",
            "Wallet not Found",
            format!("Wallet with key: {wallet_key} was not found"),
            format!("Carteira com a chave: {wallet_key} não foi encontrado"),
        )
    }

    /// 400 CIN000073: `limit_amount` above the wallet's postpaid credit limit.
    pub fn limit_above_credit() -> Self {
        Self::new(
            400,
            "CIN000073",
            "Bad Request",
            "Limit amount is greater than postpaid credit limit of the wallet".into(),
            "Limite é maior que o limite de crédito pós-pago da carteira".into(),
        )
    }

    /// 400 CIN000074: `limit_amount` above the wallet's CCB limit.
    pub fn limit_above_ccb() -> Self {
        Self::new(
            400,
            "CIN000074",
            "Bad Request",
            "Limit amount is greater than ccb limit of the wallet".into(),
            "Limite é maior que o limite de ccb da carteira".into(),
        )
    }

    /// 400 CIN000072: transient card-service failure (injected fault).
    pub fn postpaid_card_failed() -> Self {
        Self::new(
            400,
            "CIN000072",
            "Bad Request",
            "Error while creating postpaid card in card service, try again in a few minutes".into(),
            "Erro ao criar postpaid card no serviço de cartão, tente novamente em alguns minutos"
                .into(),
        )
    }

    /// 400 CIN000067: transient owner-creation failure (injected fault).
    pub fn owner_failed() -> Self {
        Self::new(
            400,
            "CIN000067",
            "Bad Request",
            "Error while creating owner of the wallet. Try again in a few minutes".into(),
            "Erro ao criar owner da carteira. Tente novamente em alguns minutos".into(),
        )
    }

    /// 409 CIN000099: the `request_control_key` was already used.
    pub fn request_control_key_exists() -> Self {
        Self::new(
            409,
            "CIN000099",
            "Conflict",
            "Request control key already exists.".into(),
            "Request control key já existe.".into(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_has_the_five_documented_fields() {
        let envelope = QiError::invalid_person_type().envelope();

        let keys: Vec<&String> = envelope.as_object().unwrap().keys().collect();

        assert_eq!(keys.len(), 5, "{envelope}");
        assert_eq!(envelope["code"], "CARD000007");
        assert_eq!(envelope["translation"], "Invalid Person");
        assert_eq!(envelope["extra_fields"], json!({}));
    }

    #[test]
    fn placeholders_are_filled_in() {
        let e = QiError::wallet_not_found("abc");

        assert_eq!(e.status, 404);
        assert_eq!(e.description, "Wallet with key: abc was not found");
    }
}
