mod rates;
mod webhooks;
