//! Building tag tables from `[[tag]]`, the errors that name the tag, and the start-up content.
use super::*;
use crate::plc::{DbSpec, Memory};

fn spec() -> ImageSpec {
    ImageSpec {
        dbs: vec![
            DbSpec {
                number: 1,
                size: 64,
                read_only: false,
            },
            DbSpec {
                number: 2,
                size: 16,
                read_only: true,
            },
        ],
        inputs: 8,
        outputs: 8,
        flags: 16,
        timers: 4,
        counters: 4,
    }
}

fn parse(text: &str) -> Vec<TagConfig> {
    #[derive(Deserialize)]
    struct F {
        tag: Vec<TagConfig>,
    }
    toml::from_str::<F>(text).unwrap().tag
}

fn build_err(text: &str) -> String {
    build(&parse(text), &spec()).unwrap_err().to_string()
}

/// The four tags of tests/line4-tags.toml and seven more.
const GOOD: &str = concat!(
    include_str!("../../../tests/line4-tags.toml"),
    r#"
    [[tag]]
    name = "Line4.Jog"
    address = "DB1.DBX0.4"
    type = "BOOL"
    [[tag]]
    name = "Line4.Started"
    address = "DB1.DBB20"
    type = "DATE_AND_TIME"
    [[tag]]
    name = "Line4.Label"
    address = "DB1.DBB30"
    type = "STRING[4]"
    [[tag]]
    name = "Cycle"
    address = "MD4"
    type = "TIME"
    initial = "T#1s"
    [[tag]]
    name = "Const"
    address = "DB2.DBW0"
    type = "WORD"
    initial = "16#BEEF"
    [[tag]]
    name = "Pieces"
    address = "Z1"
    type = "WORD"
    initial = 7
    [[tag]]
    name = "Out"
    address = "A0.0"
    type = "BOOL"
"#
);

#[test]
fn builds_a_table_and_writes_initial_values_and_defaults_into_the_image() {
    let table = build(&parse(GOOD), &spec()).unwrap();
    assert_eq!(table.len(), 11);
    assert!(table.get("Line4.Speed").unwrap().retain);
    let mut img = Image::new(&spec());
    initialize(&mut img, &[], &table).unwrap();
    let db1 = img.area(Area::DataBlock, 1).unwrap();
    assert_eq!(db1[0], 0x08);
    assert_eq!(&db1[4..8], &[0x41, 0x48, 0, 0]);
    assert_eq!(&db1[10..17], &[8, 5, b'M', b'i', b'x', b' ', b'A']);
    assert_eq!(&db1[20..28], &[0x90, 1, 1, 0, 0, 0, 0, 2]);
    assert_eq!(&db1[30..36], &[4, 0, 0, 0, 0, 0]);
    let m = img.area(Area::Flags, 0).unwrap();
    assert_eq!(&m[2..8], &[0xFF, 0xFD, 0, 0, 0x03, 0xE8]);
    // Read-only DBs take initial values too: that is what they are for.
    assert_eq!(img.area(Area::DataBlock, 2).unwrap()[..2], [0xBE, 0xEF]);
    assert_eq!(img.area(Area::Counters, 0).unwrap()[2..4], [0, 7]);
    for t in table.iter() {
        let want = t.initial.clone().unwrap_or_else(|| Value::s7_default(t.ty));
        assert_eq!(t.read(&img), Ok(want), "{}", t.name);
    }
}

#[test]
fn init_file_content_comes_first_and_tags_override_it() {
    let dir = std::env::temp_dir().join(format!("s7rt-tags-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("db1.bin");
    std::fs::write(&file, (1..=40u8).collect::<Vec<u8>>()).unwrap();
    let table = build(&parse(GOOD), &spec()).unwrap();
    let mut img = Image::new(&spec());
    initialize(&mut img, &[(1, file.clone())], &table).unwrap();
    let db1 = img.area(Area::DataBlock, 1).unwrap();
    assert_eq!(db1[0], 1 | 0x08, "file byte 0, then Line4.Run's bit");
    assert_eq!(
        &db1[4..8],
        &[0x41, 0x48, 0, 0],
        "initial value over the file"
    );
    assert_eq!(
        &db1[20..28],
        &(21..=28).collect::<Vec<u8>>()[..],
        "no default over the file"
    );
    assert_eq!(&db1[40..42], &[0, 0], "beyond the file: zero");

    std::fs::write(&file, [0u8; 65]).unwrap();
    let e = initialize(&mut Image::new(&spec()), &[(1, file.clone())], &table).unwrap_err();
    assert_eq!(
        e,
        format!("{} holds 65 bytes, more than DB1's 64", file.display())
    );
    let missing = dir.join("nope.bin");
    let e = initialize(&mut Image::new(&spec()), &[(1, missing.clone())], &table).unwrap_err();
    assert!(
        e.starts_with(&format!("cannot read {}: ", missing.display())),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn one(name: &str, address: &str, ty: &str, initial: &str) -> String {
    let initial = match initial {
        "" => String::new(),
        v => format!("initial = {v}\n"),
    };
    format!("[[tag]]\nname = \"{name}\"\naddress = \"{address}\"\ntype = \"{ty}\"\n{initial}")
}

#[test]
fn every_tag_error_names_the_tag_and_the_problem() {
    for (entry, want) in [
        (one("A", "DB1.DBX0", "BOOL", ""), "config key `tag[0]` (A): address `DB1.DBX0`: a bit address needs .<bit> (e.g. M10.0, DB1.DBX0.3)"),
        (one("A", "MW1", "FLOAT", ""), "config key `tag[0]` (A): type `FLOAT`: unknown type: use BOOL, BYTE, WORD, DWORD, INT, DINT, REAL, LREAL, CHAR, STRING[n], TIME or DATE_AND_TIME"),
        (one("A", "MW1", "STRING[300]", ""), "config key `tag[0]` (A): type `STRING[300]`: STRING[n] needs n in 1..254"),
        (one("A", "DB1.DBX0.3", "REAL", ""), "config key `tag[0]` (A): REAL at DB1.DBX0.3: a 4-byte type needs a double-word address (DBD, MD, ID, QD)"),
        (one("A", "MW10", "REAL", ""), "config key `tag[0]` (A): REAL at MW10: a 4-byte type needs a double-word address (DBD, MD, ID, QD)"),
        (one("A", "T1", "REAL", ""), "config key `tag[0]` (A): REAL at T1: timers and counters hold WORD or INT"),
        (one("A", "DB1.DBD62", "REAL", ""), "config key `tag[0]` (A): REAL at DB1.DBD62 (4 bytes from byte 62) is out of range: it ends beyond DB1's 64 bytes"),
        (one("A", "DB1.DBB60", "STRING[3]", ""), "config key `tag[0]` (A): STRING[3] at DB1.DBB60 (5 bytes from byte 60) is out of range: it ends beyond DB1's 64 bytes"),
        (one("A", "EB8", "BYTE", ""), "config key `tag[0]` (A): BYTE at IB8 (1 bytes from byte 8) is out of range: it ends beyond the 8 bytes of inputs ([areas] inputs)"),
        (one("A", "QW7", "WORD", ""), "config key `tag[0]` (A): WORD at QW7 (2 bytes from byte 7) is out of range: it ends beyond the 8 bytes of outputs ([areas] outputs)"),
        (one("A", "M16.0", "BOOL", ""), "config key `tag[0]` (A): BOOL at M16.0 (1 bytes from byte 16) is out of range: it ends beyond the 16 bytes of flags ([areas] flags)"),
        (one("A", "T4", "WORD", ""), "config key `tag[0]` (A): WORD at T4 (2 bytes from byte 8) is out of range: it ends beyond the 4 timers ([areas] timers)"),
        (one("A", "Z4", "INT", ""), "config key `tag[0]` (A): INT at C4 (2 bytes from byte 8) is out of range: it ends beyond the 4 counters ([areas] counters)"),
        (one("A", "DB9.DBW0", "INT", ""), "config key `tag[0]` (A): DB9.DBW0: DB9 is not configured (add a [[db]] with number = 9)"),
        (one("A", "MB0", "BYTE", "256"), "config key `tag[0]` (A): initial value 256: 256 is outside BYTE's range 0..255"),
        (one("A", "MW0", "INT", "-40000"), "config key `tag[0]` (A): initial value -40000: -40000 is outside INT's range -32768..32767"),
        (one("A", "MB0", "STRING[2]", "\"abc\""), "config key `tag[0]` (A): initial value \"abc\": 3 characters do not fit STRING[2]"),
        (one("A", "MD0", "REAL", "true"), "config key `tag[0]` (A): initial value true: REAL cannot be given as a JSON boolean"),
        (one("A", "MD0", "REAL", "\"fast\""), "config key `tag[0]` (A): initial value \"fast\": `fast` is not a REAL"),
        (one("A", "MB0", "DT", "\"DT#1980-01-01-00:00:00\""), "config key `tag[0]` (A): initial value \"DT#1980-01-01-00:00:00\": DATE_AND_TIME 1980-01-01T00:00:00.000 is outside 1990-01-01..2089-12-31"),
        (one("A", "MB0", "INT", "[1]"), "config key `tag[0]` (A): INT at MB0: a 2-byte type needs a word address (DBW, MW, IW, QW)"),
        (one("A", "MW0", "INT", "[1]"), "config key `tag[0]` (A): initial value [1]: INT cannot be given as a JSON array"),
        (one("", "MW0", "INT", ""), "config key `tag[0]` (): the name is empty"),
        (one("Line 4", "MW0", "INT", ""), "config key `tag[0]` (Line 4): the name may not contain ' '"),
        (one("MW10", "MW0", "INT", ""), "config key `tag[0]` (MW10): the name reads as an address; choose a symbolic name"),
    ] {
        assert_eq!(build_err(&entry), want, "{entry}");
    }
}

#[test]
fn overlapping_and_duplicate_tags_are_refused_by_name() {
    let two = |a: (&str, &str, &str), b: (&str, &str, &str)| {
        build_err(&format!(
            "{}{}",
            one(a.0, a.1, a.2, ""),
            one(b.0, b.1, b.2, "")
        ))
    };
    assert_eq!(
        two(("A", "DB1.DBD0", "REAL"), ("B", "DB1.DBW2", "INT")),
        "config key `tag[1]` (B): DB1.DBW2 INT overlaps tag[0] (A) DB1.DBD0 REAL"
    );
    assert_eq!(
        two(("A", "DB1.DBW2", "INT"), ("B", "DB1.DBD0", "REAL")),
        "config key `tag[1]` (B): DB1.DBD0 REAL overlaps tag[0] (A) DB1.DBW2 INT"
    );
    assert_eq!(
        two(("A", "MB0", "STRING[10]"), ("B", "M11.7", "BOOL")),
        "config key `tag[1]` (B): M11.7 BOOL overlaps tag[0] (A) MB0 STRING[10]"
    );
    assert_eq!(
        two(("A", "E0.1", "BOOL"), ("B", "I0.1", "BOOL")),
        "config key `tag[1]` (B): I0.1 BOOL overlaps tag[0] (A) I0.1 BOOL"
    );
    assert_eq!(
        two(("A", "E0.1", "BOOL"), ("B", "IB0", "BYTE")),
        "config key `tag[1]` (B): IB0 BYTE overlaps tag[0] (A) I0.1 BOOL"
    );
    assert_eq!(
        two(("A", "MW0", "INT"), ("A", "MW2", "INT")),
        "config key `tag[1]` (A): the name is already used by tag[0]"
    );
    // Neighbours, different bits of one byte, other areas and other DBs do not overlap.
    for ok in [
        format!(
            "{}{}",
            one("A", "DB1.DBD0", "REAL", ""),
            one("B", "DB1.DBW4", "INT", "")
        ),
        format!(
            "{}{}",
            one("A", "M0.0", "BOOL", ""),
            one("B", "M0.1", "BOOL", "")
        ),
        format!(
            "{}{}",
            one("A", "MW0", "INT", ""),
            one("B", "DB1.DBW0", "INT", "")
        ),
        format!(
            "{}{}",
            one("A", "DB2.DBW0", "INT", ""),
            one("B", "DB1.DBW0", "INT", "")
        ),
        format!("{}{}", one("A", "T0", "INT", ""), one("B", "C0", "INT", "")),
    ] {
        assert!(build(&parse(&ok), &spec()).is_ok(), "{ok}");
    }
}
