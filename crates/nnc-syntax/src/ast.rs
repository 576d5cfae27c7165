//! The untyped syntax tree of a `.nnet` file.
//!
//! The tree mirrors the source: nothing is resolved, expanded or defaulted
//! here (that is the checker's job), so the formatter can print it back.
//! Every node carries the [`Span`] of the source text it came from; spans of
//! children lie inside the span of their parent, and siblings appear in
//! source order.

use nnc_diag::Span;
use serde::Serialize;

/// A whole source file.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct File {
    pub items: Vec<Item>,
    /// Every comment of the file in source order; not attached to nodes.
    /// The formatter re-inserts them by position.
    pub comments: Vec<Comment>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comment {
    /// The comment's full text, including `//` or `/* */`.
    pub text: String,
    pub span: Span,
}

/// A name as written, with its span.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// A top-level item.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Item {
    /// `const HIDDEN = 30`
    Const(ConstItem),
    /// `block conv_pool(maps, kernel = 5) { ... }`
    Block(BlockItem),
    /// `model mnist_mlp { ... }`
    Model(ModelItem),
    /// `data mnist { ... }`
    Data(DataItem),
    /// `train mnist_mlp on mnist { ... }`
    Train(TrainItem),
}

impl Item {
    pub fn span(&self) -> Span {
        match self {
            Item::Const(i) => i.span,
            Item::Block(i) => i.span,
            Item::Model(i) => i.span,
            Item::Data(i) => i.span,
            Item::Train(i) => i.span,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConstItem {
    pub name: Ident,
    pub value: Expr,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BlockItem {
    pub name: Ident,
    pub params: Vec<Param>,
    pub body: BlockBody,
    pub span: Span,
}

/// A block parameter, `maps` or `kernel = 5`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Param {
    pub name: Ident,
    pub default: Option<Expr>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum BlockBody {
    /// A sequential stack: each layer takes the previous one's output.
    Layers(Vec<Expr>),
    /// A dataflow body: starts with `input` statements, ends with `output`.
    Dataflow(Vec<Stmt>),
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelItem {
    pub name: Ident,
    pub body: Vec<Stmt>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DataItem {
    pub name: Ident,
    pub body: Vec<Stmt>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TrainItem {
    /// The model(s) trained; one today, several for adversarial training.
    pub models: Vec<Ident>,
    pub data: Ident,
    pub body: Vec<Stmt>,
    pub span: Span,
}

/// A statement inside a model, block, data, train, `at` or section body.
/// The grammar accepts every statement everywhere; the checker says which
/// statements a body may hold.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Stmt {
    /// `input image: [784]` (the shape may be omitted inside blocks).
    Input {
        name: Ident,
        shape: Option<Expr>,
        span: Span,
    },
    /// `output digit = h |> dense(10)` or `output h`.
    Output {
        name: Ident,
        value: Option<Expr>,
        span: Span,
    },
    /// `let code = dense(x, 32)`
    Let {
        name: Ident,
        value: Expr,
        span: Span,
    },
    /// `let (mu, logvar) = encoder(x)`: the outputs of a dataflow block
    /// with several `output`s, bound in the order the block declares them.
    LetMany {
        names: Vec<Ident>,
        value: Expr,
        span: Span,
    },
    /// `layer encoder = dense(32, act: relu)`: one set of weights, usable
    /// several times.
    Layer {
        name: Ident,
        value: Expr,
        span: Span,
    },
    /// `layers { dense(30) dense(10) }`: a stack applied to the model's one
    /// input; its result is the model's output.
    Layers { items: Vec<Expr>, span: Span },
    /// `at epoch 31 { learning_rate 0.1 }`
    At {
        epoch: Expr,
        body: Vec<Stmt>,
        span: Span,
    },
    /// `step generator { ... }`: a named section.
    Section {
        kind: Ident,
        name: Ident,
        body: Vec<Stmt>,
        span: Span,
    },
    /// `cost cross_entropy`, `learning_rate 0.1`, `early_stop(patience: 10)`.
    Setting(Setting),
}

impl Stmt {
    pub fn span(&self) -> Span {
        match self {
            Stmt::Input { span, .. }
            | Stmt::Output { span, .. }
            | Stmt::Let { span, .. }
            | Stmt::LetMany { span, .. }
            | Stmt::Layer { span, .. }
            | Stmt::Layers { span, .. }
            | Stmt::At { span, .. }
            | Stmt::Section { span, .. } => *span,
            Stmt::Setting(s) => s.span,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Setting {
    pub key: Ident,
    pub value: SettingValue,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum SettingValue {
    /// `key value`
    Expr(Expr),
    /// `key(arg, name: arg)`, written as a call.
    Args(Vec<Arg>),
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum ExprKind {
    /// `30`, `50_000`
    Int(i64),
    /// `0.1`, `5.0`, `1e-8`; `text` is the literal as written.
    Float {
        value: f64,
        text: String,
    },
    /// `"../data/mnist/train-images-idx3-ubyte.gz"` (escapes resolved).
    Str(String),
    Bool(bool),
    /// `x`, `relu`, `HIDDEN`
    Name(Ident),
    /// `dense(30, act: sigmoid)`
    Call {
        callee: Ident,
        args: Vec<Arg>,
    },
    /// `train_file[0..50000]`, `train_file[50000..]`
    Slice {
        base: Ident,
        start: Option<Box<Expr>>,
        end: Option<Box<Expr>>,
    },
    /// `[1, 28, 28]`: a list, also used for shapes.
    List(Vec<Expr>),
    /// `-x`
    Neg(Box<Expr>),
    /// `a + b`, `1 / 255`
    Binary {
        op: BinOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `x |> dense(30) |> dense(10)`: at least two stages.
    Pipe(Vec<Expr>),
    /// `conv2d(20, kernel: 5) -> [20, 24, 24]`
    Assert {
        value: Box<Expr>,
        shape: Box<Expr>,
    },
    /// `layers { conv2d(20, kernel: 5) max_pool(2) }` as a value.
    Layers(Vec<Expr>),
    /// `(a + b)`: kept so the formatter preserves the user's parentheses.
    Paren(Box<Expr>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
        }
    }
}

/// A call argument: positional (`30`) or named (`act: sigmoid`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Arg {
    pub name: Option<Ident>,
    pub value: Expr,
    pub span: Span,
}
