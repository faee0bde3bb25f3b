//! The committed `zokio.schema.json` must match what the model generates.

#[test]
fn committed_schema_is_up_to_date() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/zokio.schema.json");
    let generated = zokio_config_schema::json_schema();
    if std::env::var_os("ZOKIO_BLESS").is_some() {
        std::fs::write(path, &generated).expect("write zokio.schema.json");
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "config-schema/zokio.schema.json is stale; regenerate it with \
         `ZOKIO_BLESS=1 cargo test -p zokio-config-schema --test schema_file`"
    );
}

#[test]
fn schema_names_every_key() {
    let schema: serde_json::Value =
        serde_json::from_str(&zokio_config_schema::json_schema()).unwrap();
    let text = schema.to_string();
    for def in zokio_config_schema::keys::KEYS {
        assert!(
            text.contains(&format!("\"{}\"", def.name())),
            "schema lacks `{}`",
            def.path
        );
    }
    assert_eq!(
        schema["additionalProperties"],
        serde_json::Value::Bool(false)
    );
}

#[test]
fn committed_key_reference_is_up_to_date() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/CONFIG.md");
    let generated = zokio_config_schema::keys::keys_markdown();
    if std::env::var_os("ZOKIO_BLESS").is_some() {
        std::fs::write(path, &generated).expect("write docs/CONFIG.md");
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/CONFIG.md is stale; regenerate it with \
         `ZOKIO_BLESS=1 cargo test -p zokio-config-schema --test schema_file`"
    );
    for def in zokio_config_schema::keys::KEYS {
        if def.kind != zokio_config_schema::keys::KeyKind::Group {
            assert!(
                committed.contains(&format!("| `{}` |", def.path)),
                "{} missing",
                def.path
            );
        }
    }
}
