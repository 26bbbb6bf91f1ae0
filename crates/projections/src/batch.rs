//! Running a batch's statements in few round trips, with the outcome of running them one
//! by one.
//!
//! A projection folds each event into statements on its own tables ([`Stmt`]); a batch of
//! 5,000 events makes thousands of them. Sent one by one, each is a round trip, and the
//! round trips, not the rows, were the cost of a rebuild. Here they go as multi-row
//! statements instead:
//!
//! - A statement is **keyed** when it touches exactly one row, named by the table's whole
//!   primary key: `insert into {t} (…) values (…)` with an optional `on conflict (the
//!   key) do …`, or `update {t} set … where` equalities on every key column and nothing
//!   else. Its key's values come from its arguments (or the literals of its text).
//! - Keyed statements on different rows commute. So the batch is laid out in *waves*: a
//!   statement goes to the wave after the last one that touched its row, so no wave touches
//!   a row twice, and each row's statements keep their order.
//! - In a wave, the statements of one text run as one statement: an insert with many
//!   `values` rows, or `update {t} set … from (values …) as v where …` (the parameters
//!   read as `v.column1`, `v.column2`, …, names both SQLite and PostgreSQL give the
//!   columns of a `values` list).
//! - Anything else (a statement that reads another table, updates by anything but the
//!   key) is a *barrier*: the waves planned so far are run, then it runs alone.

use std::collections::HashMap;

use xingcun_store::StoreError;

use crate::runtime::Table;
use crate::sql::{Arg, ReadTx, Stmt};

/// Most values bound to one statement (SQLite allows 32,766; PostgreSQL 65,535).
pub const MAX_BINDS: usize = 30_000;
/// Most rows one multi-row statement carries.
pub const MAX_ROWS: usize = 1_000;

/// What a statement's text allows.
#[derive(Debug, Clone, PartialEq)]
enum Shape {
    Keyed(Keyed),
    Barrier,
}

#[derive(Debug, Clone, PartialEq)]
struct Keyed {
    /// The placeholder of its table (`village_board` for `{village_board}`).
    table: &'static str,
    /// Where each primary key column's value comes from, in the key's order.
    key: Vec<Source>,
    /// Highest `$n` of the text: the arguments of one row.
    params: usize,
    /// The parameters in the order a row's text uses them (`?` placeholders bind in it).
    order: Vec<usize>,
    form: Form,
}

#[derive(Debug, Clone, PartialEq)]
enum Source {
    Param(usize),
    Literal(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Form {
    /// `head` up to and including `values `, one row's `tuple`, and the `tail` after it.
    Insert {
        head: String,
        tuple: String,
        tail: String,
    },
    /// `update {t} set <set> where <filter>`.
    Update { head: String, filter: String },
}

/// The statements' shapes, worked out once per text.
pub struct Planner<'p> {
    tables: &'p [Table],
    shapes: HashMap<&'static str, Shape>,
}

impl<'p> Planner<'p> {
    pub fn new(tables: &'p [Table]) -> Self {
        Planner {
            tables,
            shapes: HashMap::new(),
        }
    }

    fn shape(&mut self, sql: &'static str) -> &Shape {
        let tables = self.tables;
        self.shapes
            .entry(sql)
            .or_insert_with(|| Shape::of(sql, tables).map_or(Shape::Barrier, Shape::Keyed))
    }

    /// Run `stmts` in order of effect, `fill` turning a text's `{table}` placeholders into
    /// the tables being written.
    pub async fn run(
        &mut self,
        tx: &mut ReadTx,
        stmts: &[Stmt],
        fill: &(dyn Fn(&str) -> String + Sync),
    ) -> Result<(), StoreError> {
        let mut plan = Waves::default();
        for (i, stmt) in stmts.iter().enumerate() {
            match self.shape(stmt.sql).clone() {
                Shape::Keyed(keyed) => {
                    let key = keyed.key_of(&stmt.args);
                    plan.place_keyed(i, stmt.sql, keyed.table, key);
                }
                Shape::Barrier => {
                    let tables = placeholders(stmt.sql);
                    if tables
                        .iter()
                        .any(|t| self.tables.iter().any(|own| own.name == *t))
                    {
                        plan.place_alone(i, &tables);
                    } else {
                        // It names none of the projection's tables: it could touch any.
                        self.run_waves(tx, stmts, &plan, fill).await?;
                        plan = Waves::default();
                        tx.execute(&fill(stmt.sql), &stmt.args).await?;
                    }
                }
            }
        }
        self.run_waves(tx, stmts, &plan, fill).await
    }

    async fn run_waves(
        &mut self,
        tx: &mut ReadTx,
        stmts: &[Stmt],
        plan: &Waves,
        fill: &(dyn Fn(&str) -> String + Sync),
    ) -> Result<(), StoreError> {
        let mut round_trips = 0;
        for wave in &plan.waves {
            for group in wave {
                let (sql, members) = match group {
                    Group::Alone(i) => {
                        round_trips += 1;
                        tx.execute(&fill(stmts[*i].sql), &stmts[*i].args).await?;
                        continue;
                    }
                    Group::Rows(sql, members) => (sql, members),
                };
                let Shape::Keyed(keyed) = self.shape(sql).clone() else {
                    unreachable!("only keyed statements are grouped");
                };
                let most = MAX_ROWS.min((MAX_BINDS / keyed.params.max(1)).max(1));
                for chunk in members.chunks(most) {
                    round_trips += 1;
                    if let [one] = chunk {
                        tx.execute(&fill(sql), &stmts[*one].args).await?;
                        continue;
                    }
                    let positional = !tx.is_postgres();
                    let sql = fill(&keyed.rows(chunk.len(), positional));
                    if positional {
                        let mut args: Vec<&Arg> =
                            Vec::with_capacity(chunk.len() * keyed.order.len());
                        for &i in chunk {
                            for &n in &keyed.order {
                                args.extend(stmts[i].args.get(n - 1));
                            }
                        }
                        tx.execute_iter(&sql, args.into_iter()).await?;
                    } else {
                        let args = chunk.iter().flat_map(|&i| stmts[i].args.iter());
                        tx.execute_iter(&sql, args).await?;
                    }
                }
            }
        }
        tracing::trace!(
            statements = plan.placed,
            waves = plan.waves.len(),
            round_trips,
            "batch written"
        );
        Ok(())
    }
}

/// What runs as one statement in a wave.
#[derive(Debug, PartialEq)]
enum Group {
    /// Keyed statements of one text, on different rows: one multi-row statement.
    Rows(&'static str, Vec<usize>),
    /// A statement that is not keyed, run as written.
    Alone(usize),
}

/// Statements laid out in waves: each after every earlier statement it may not commute
/// with. A keyed statement waits for the last one on its row and for the last barrier on
/// its table; a barrier waits for everything on the tables it names.
#[derive(Default)]
struct Waves {
    waves: Vec<Vec<Group>>,
    /// The last wave that touched each (table, key), by the key's hash ([`Keyed::key_of`]).
    last: HashMap<u64, usize>,
    /// Per table: the last wave with any statement on it, and the wave after its last
    /// barrier (the first a keyed statement may take).
    tables: HashMap<&'static str, (usize, usize)>,
    placed: usize,
}

impl Waves {
    fn wave(&mut self, wave: usize) -> &mut Vec<Group> {
        if self.waves.len() <= wave {
            self.waves.resize_with(wave + 1, Vec::new);
        }
        &mut self.waves[wave]
    }

    fn place_keyed(&mut self, index: usize, sql: &'static str, table: &'static str, key: u64) {
        self.placed += 1;
        let floor = self.tables.get(table).map_or(0, |(_, floor)| *floor);
        let slot = self.last.entry(key).or_insert(usize::MAX);
        let wave = slot.wrapping_add(1).max(floor);
        *slot = wave;
        let (last, _) = self.tables.entry(table).or_insert((0, 0));
        *last = (*last).max(wave);
        let groups = self.wave(wave);
        let same = groups.iter_mut().find_map(|g| match g {
            Group::Rows(s, members) if *s == sql => Some(members),
            _ => None,
        });
        match same {
            Some(members) => members.push(index),
            None => groups.push(Group::Rows(sql, vec![index])),
        }
    }

    fn place_alone(&mut self, index: usize, tables: &[&'static str]) {
        self.placed += 1;
        let wave = tables
            .iter()
            .filter_map(|t| self.tables.get(t))
            .map(|(last, _)| last + 1)
            .max()
            .unwrap_or(0);
        for table in tables {
            self.tables.insert(table, (wave, wave + 1));
        }
        self.wave(wave).push(Group::Alone(index));
    }
}

/// FNV-1a, 64 bits: fast on short keys, and a collision costs only order.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// The `{table}` placeholders of a text.
fn placeholders(sql: &'static str) -> Vec<&'static str> {
    sql.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
        .collect()
}

impl Keyed {
    /// The row a statement touches, as a hash (FNV-1a) of its table and its key's values,
    /// each as text. Two rows that hash alike (an integer and its digits; a collision)
    /// only keep two statements in order that need not be, never the reverse.
    fn key_of(&self, args: &[Arg]) -> u64 {
        let mut hash = Fnv::default();
        hash.write(self.table.as_bytes());
        let mut digits = String::new();
        for source in &self.key {
            hash.write(&[0xff]);
            match source {
                Source::Literal(v) => hash.write(v.as_bytes()),
                Source::Param(n) => match args.get(n - 1) {
                    Some(Arg::Int(v) | Arg::OptInt(Some(v))) => {
                        use std::fmt::Write;
                        digits.clear();
                        let _ = write!(digits, "{v}");
                        hash.write(digits.as_bytes());
                    }
                    Some(Arg::Text(v) | Arg::OptText(Some(v))) => hash.write(v.as_bytes()),
                    _ => hash.write(&[0xfe]),
                },
            }
        }
        hash.0
    }

    /// The text for `rows` rows: placeholders numbered on row after row (`$n`), or, for
    /// SQLite, `?` in the order of [`Keyed::order`]. (sqlx binds a `$n` on SQLite by asking
    /// SQLite each placeholder's name, a walk of the statement's list of names: quadratic
    /// in the placeholders, it was three fifths of a rebuild's time with 30,000 of them.)
    fn rows(&self, rows: usize, positional: bool) -> String {
        let placeholder = |row: usize, n: usize| {
            if positional {
                "?".to_owned()
            } else {
                format!("${}", row * self.params + n)
            }
        };
        let renumber = |text: &str, row: usize| replace_params(text, &mut |n| placeholder(row, n));
        match &self.form {
            Form::Insert { head, tuple, tail } => {
                let mut sql = head.clone();
                for row in 0..rows {
                    if row > 0 {
                        sql.push_str(", ");
                    }
                    sql.push_str(&renumber(tuple, row));
                }
                sql.push_str(tail);
                sql
            }
            Form::Update { head, filter } => {
                let to_column = |text: &str| replace_params(text, &mut |n| format!("v.column{n}"));
                let mut sql = to_column(head);
                sql.push_str(" from (values ");
                for row in 0..rows {
                    if row > 0 {
                        sql.push_str(", ");
                    }
                    sql.push('(');
                    for n in 1..=self.params {
                        if n > 1 {
                            sql.push_str(", ");
                        }
                        sql.push_str(&placeholder(row, n));
                    }
                    sql.push(')');
                }
                sql.push_str(") as v where ");
                sql.push_str(&to_column(filter));
                sql
            }
        }
    }
}

impl Shape {
    /// The keyed form of `sql`, if it has one.
    fn of(sql: &'static str, tables: &[Table]) -> Option<Keyed> {
        let lower = sql.to_ascii_lowercase();
        if lower.contains("select") || lower.contains(" or ") || sql.matches('{').count() != 1 {
            return None;
        }
        let open = sql.find('{')?;
        let close = open + sql[open..].find('}')?;
        let table_name = &sql[open + 1..close];
        let table = tables.iter().find(|t| t.name == table_name)?;
        let primary_key = primary_key(table.columns)?;
        let params = max_param(sql);
        if params == 0 {
            return None;
        }
        let keyed = if lower.starts_with("insert into ") {
            Self::insert(sql, &primary_key)?
        } else if lower.starts_with("update ") {
            Self::update(sql, &primary_key)?
        } else {
            return None;
        };
        // An insert's parameters must all be values of its row (one in `do update`
        // would mean one row's value for all of them).
        if let Form::Insert { tuple, tail, .. } = &keyed.0
            && (tail.contains('$') || max_param(tuple) != params || count_params(tuple) < params)
        {
            return None;
        }
        let order = match &keyed.0 {
            Form::Insert { tuple, .. } => {
                let mut order = Vec::new();
                replace_params(tuple, &mut |n| {
                    order.push(n);
                    String::new()
                });
                order
            }
            Form::Update { .. } => (1..=params).collect(),
        };
        Some(Keyed {
            table: table_name,
            key: keyed.1,
            params,
            order,
            form: keyed.0,
        })
    }

    /// `insert into {t} [as x] (cols) values (exprs)[ on conflict (the key) do …]`.
    fn insert(sql: &str, primary_key: &[String]) -> Option<(Form, Vec<Source>)> {
        let (before, after) = sql.split_once(" values (")?;
        let columns_open = before.find('(')?;
        let columns: Vec<String> = split_top(before[columns_open + 1..].strip_suffix(')')?)
            .into_iter()
            .map(|c| c.trim().to_owned())
            .collect();
        let tuple_end = matching_paren(after)?;
        let exprs: Vec<String> = split_top(&after[..tuple_end])
            .into_iter()
            .map(|e| e.trim().to_owned())
            .collect();
        if exprs.len() != columns.len() {
            return None;
        }
        let tail = &after[tuple_end + 1..];
        if !tail.is_empty() {
            let target = tail.strip_prefix(" on conflict (")?;
            let (target, _) = target.split_once(')')?;
            let mut target: Vec<String> = target.split(',').map(|c| c.trim().to_owned()).collect();
            let mut key = primary_key.to_vec();
            target.sort();
            key.sort();
            if target != key {
                return None;
            }
        }
        let key = primary_key
            .iter()
            .map(|k| {
                let i = columns.iter().position(|c| c == k)?;
                source(&exprs[i])
            })
            .collect::<Option<Vec<_>>>()?;
        Some((
            Form::Insert {
                head: format!("{before} values "),
                tuple: format!("({})", &after[..tuple_end]),
                tail: tail.to_owned(),
            },
            key,
        ))
    }

    /// `update {t} set … where k1 = e1 and k2 = e2 …` over exactly the key's columns.
    fn update(sql: &str, primary_key: &[String]) -> Option<(Form, Vec<Source>)> {
        let (head, filter) = sql.rsplit_once(" where ")?;
        if filter.contains('(') {
            return None;
        }
        let mut by_column = HashMap::new();
        for term in filter.split(" and ") {
            let (column, value) = term.split_once('=')?;
            let column = column.trim();
            if column.contains(' ') || by_column.insert(column, source(value.trim())?).is_some() {
                return None;
            }
        }
        if by_column.len() != primary_key.len() {
            return None;
        }
        let key = primary_key
            .iter()
            .map(|k| by_column.remove(k.as_str()))
            .collect::<Option<Vec<_>>>()?;
        Some((
            Form::Update {
                head: head.to_owned(),
                filter: filter.to_owned(),
            },
            key,
        ))
    }
}

/// `$n` or a plain literal (`'text'`, digits).
fn source(expr: &str) -> Option<Source> {
    if let Some(n) = expr.strip_prefix('$') {
        return n.parse().ok().filter(|n| *n > 0).map(Source::Param);
    }
    if let Some(text) = expr.strip_prefix('\'').and_then(|e| e.strip_suffix('\''))
        && !text.contains('\'')
    {
        return Some(Source::Literal(text.to_owned()));
    }
    (!expr.is_empty() && expr.bytes().all(|b| b.is_ascii_digit()))
        .then(|| Source::Literal(expr.to_owned()))
}

/// The columns of `primary key (…)` in a table's definition.
fn primary_key(columns: &str) -> Option<Vec<String>> {
    let (_, rest) = columns.split_once("primary key (")?;
    let (key, _) = rest.split_once(')')?;
    Some(key.split(',').map(|c| c.trim().to_owned()).collect())
}

/// The highest `$n` in a text.
fn max_param(sql: &str) -> usize {
    let mut most = 0;
    replace_params(sql, &mut |n| {
        most = most.max(n);
        String::new()
    });
    most
}

/// How many distinct `$n` a text uses.
fn count_params(sql: &str) -> usize {
    let mut seen = std::collections::BTreeSet::new();
    replace_params(sql, &mut |n| {
        seen.insert(n);
        String::new()
    });
    seen.len()
}

/// `text` with each `$n` outside quotes replaced by `to(n)`.
fn replace_params(text: &str, to: &mut dyn FnMut(usize) -> String) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len() + 16);
    let mut i = 0;
    let mut quoted = false;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'\'' {
            quoted = !quoted;
        }
        if b == b'$' && !quoted {
            let digits = bytes[i + 1..]
                .iter()
                .take_while(|d| d.is_ascii_digit())
                .count();
            if digits > 0
                && let Ok(n) = text[i + 1..i + 1 + digits].parse::<usize>()
            {
                out.push_str(&to(n));
                i += 1 + digits;
                continue;
            }
        }
        let ch = text[i..].chars().next().unwrap_or_default();
        out.push(ch);
        i += ch.len_utf8().max(1);
    }
    out
}

/// The index of the `)` that closes a text opened just before it.
fn matching_paren(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut quoted = false;
    for (i, b) in text.bytes().enumerate() {
        match b {
            b'\'' => quoted = !quoted,
            b'(' if !quoted => depth += 1,
            b')' if !quoted => {
                if depth == 0 {
                    return Some(i);
                }
                depth -= 1;
            }
            _ => {}
        }
    }
    None
}

/// Split on commas outside parentheses and quotes.
fn split_top(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut quoted = false;
    let mut start = 0;
    for (i, b) in text.bytes().enumerate() {
        match b {
            b'\'' => quoted = !quoted,
            b'(' if !quoted => depth += 1,
            b')' if !quoted => depth = depth.saturating_sub(1),
            b',' if !quoted && depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &[Table] = &[Table {
        name: "t",
        columns: "(a text not null, b bigint not null, n bigint, s text, primary key (a, b))",
        indexes: &[],
        lookups: &[],
    }];

    fn keyed(sql: &'static str) -> Keyed {
        Shape::of(sql, T).unwrap_or_else(|| panic!("keyed: {sql}"))
    }

    #[test]
    fn inserts_by_the_key_take_many_rows() {
        let k = keyed(
            "insert into {t} as x (a, b, n, s) values ($1, $2, 0, $3) \
             on conflict (b, a) do update set n = x.n + 1",
        );
        assert_eq!(k.key, vec![Source::Param(1), Source::Param(2)]);
        let row = |a: &str, b: Arg| k.key_of(&[a.into(), b, "s".into()]);
        assert_eq!(row("v", 7.into()), row("v", "7".into()));
        assert_ne!(row("v", 7.into()), row("v", 8.into()));
        assert_ne!(row("v", 7.into()), row("w", 7.into()));
        assert_eq!(
            k.rows(2, false),
            "insert into {t} as x (a, b, n, s) values ($1, $2, 0, $3), ($4, $5, 0, $6) \
             on conflict (b, a) do update set n = x.n + 1"
        );
        assert_eq!(
            k.rows(2, true),
            "insert into {t} as x (a, b, n, s) values (?, ?, 0, ?), (?, ?, 0, ?) \
             on conflict (b, a) do update set n = x.n + 1"
        );
        let twice = keyed("insert into {t} (a, b, n, s) values ($2, $1, $3, $3)");
        assert_eq!(twice.order, [2, 1, 3, 3]);
    }

    #[test]
    fn updates_by_the_key_read_their_values_from_a_values_list() {
        let k = keyed(
            "update {t} set n = n + $1, s = case when s = 'a' then $2 else s end \
             where a = $3 and b = 5",
        );
        assert_eq!(k.key, vec![Source::Param(3), Source::Literal("5".into())]);
        assert_eq!(
            k.rows(2, false),
            "update {t} set n = n + v.column1, s = case when s = 'a' then v.column2 else s end \
             from (values ($1, $2, $3), ($4, $5, $6)) as v where a = v.column3 and b = 5"
        );
    }

    #[test]
    fn anything_else_is_a_barrier() {
        for sql in [
            // not the whole key
            "update {t} set n = $1 where a = $2",
            "insert into {t} (a, n) values ($1, $2)",
            // a conflict target that is not the key
            "insert into {t} (a, b, n) values ($1, $2, $3) on conflict (a) do nothing",
            // reads another table, or another row
            "insert into {t} (a, b, n) select $1, $2, n from {t} where a = $3",
            "update {t} set n = $1 where a = $2 and b in (select b from {t})",
            "update {t} set n = $1 where a = $2 or b = $3",
            "update {t} set n = $1 where a = $2 and b = $3 and n = $4",
            // a parameter only in `do update`
            "insert into {t} (a, b) values ($1, $2) on conflict (a, b) do update set n = $3",
            // a table the projection does not own
            "update {other} set n = $1 where a = $2 and b = $3",
        ] {
            assert!(Shape::of(sql, T).is_none(), "{sql}");
        }
    }

    #[test]
    fn a_row_touched_again_waits_for_the_next_wave() {
        let mut waves = Waves::default();
        let key = |a: &str| u64::from(a.as_bytes()[0]);
        waves.place_keyed(0, "x", "t", key("a"));
        waves.place_keyed(1, "y", "t", key("b"));
        waves.place_keyed(2, "x", "t", key("a"));
        waves.place_keyed(3, "x", "t", key("c"));
        waves.place_keyed(4, "x", "u", key("a") + 1000);
        assert_eq!(
            waves.waves,
            vec![
                vec![Group::Rows("x", vec![0, 3, 4]), Group::Rows("y", vec![1])],
                vec![Group::Rows("x", vec![2])],
            ]
        );
    }

    #[test]
    fn a_barrier_orders_only_the_tables_it_names() {
        let mut waves = Waves::default();
        let key = |a: &str| u64::from(a.as_bytes()[0]);
        waves.place_keyed(0, "x", "t", key("a"));
        waves.place_keyed(1, "x", "t", key("a"));
        waves.place_keyed(2, "z", "u", key("a") + 1000);
        // reads u, writes t: after both of t's, before what follows on either
        waves.place_alone(3, &["t", "u"]);
        waves.place_keyed(4, "x", "t", key("b"));
        waves.place_keyed(5, "z", "u", key("b") + 1000);
        waves.place_keyed(6, "w", "w", key("a") + 2000);
        assert_eq!(
            waves.waves,
            vec![
                vec![
                    Group::Rows("x", vec![0]),
                    Group::Rows("z", vec![2]),
                    Group::Rows("w", vec![6])
                ],
                vec![Group::Rows("x", vec![1])],
                vec![Group::Alone(3)],
                vec![Group::Rows("x", vec![4]), Group::Rows("z", vec![5])],
            ]
        );
        assert_eq!(
            placeholders("update {t} set n = (select 1 from {u})"),
            ["t", "u"]
        );
    }

    #[test]
    fn placeholders_in_quotes_are_text() {
        assert_eq!(
            replace_params("a = $1 and b = '$2' and c = $10", &mut |n| format!("#{n}")),
            "a = #1 and b = '$2' and c = #10"
        );
        assert_eq!(max_param("values ($2, '$9', $3)"), 3);
    }
}
