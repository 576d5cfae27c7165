//! The verifier finds broken graphs and names the node at fault.

use nnc_ir::{
    verify, Graph, GraphKind, InputKind, Node, NodeId, Op, OutputKind, ShapeError, VerifyError,
};

/// `x [2, 3]`, `w [4, 3]` and `matmul(x, w^T) [2, 4]`: a valid graph.
fn valid() -> (Graph, NodeId, NodeId, NodeId) {
    let mut g = Graph::new(GraphKind::Inference, 2);
    let x = g
        .add(
            Op::Input {
                kind: InputKind::Data(0),
                shape: vec![2, 3],
            },
            vec![],
            "x",
        )
        .unwrap();
    let w = g
        .add(
            Op::Input {
                kind: InputKind::Param(0),
                shape: vec![4, 3],
            },
            vec![],
            "w",
        )
        .unwrap();
    let y = g
        .add(
            Op::MatMul {
                ta: false,
                tb: true,
            },
            vec![x, w],
            "y",
        )
        .unwrap();
    g.add_output("y", OutputKind::Prediction, y);
    (g, x, w, y)
}

#[test]
fn a_valid_graph_passes() {
    assert_eq!(verify(&valid().0), Ok(()));
}

#[test]
fn a_node_whose_operands_do_not_fit_its_op() {
    let (mut g, x, _, _) = valid();
    // matmul(x, x) multiplies [2, 3] by [2, 3]: the inner sizes differ.
    let bad = g.push_unchecked(Node {
        op: Op::MatMul {
            ta: false,
            tb: false,
        },
        inputs: vec![x, x],
        shape: vec![2, 3],
        name: "bad".to_string(),
    });
    let errors = verify(&g).unwrap_err();
    assert_eq!(
        errors,
        vec![VerifyError::Shape {
            node: bad,
            name: "bad".to_string(),
            op: "matmul",
            error: ShapeError::Mismatch {
                operand: 1,
                expected: vec![3, 3],
                found: vec![2, 3],
            },
        }]
    );
    assert_eq!(
        errors[0].to_string(),
        "%3 (bad): `matmul` operand 1 must have shape [3, 3], it has [2, 3]"
    );
}

#[test]
fn a_node_that_records_the_wrong_shape() {
    let (mut g, x, w, _) = valid();
    let bad = g.push_unchecked(Node {
        op: Op::MatMul {
            ta: false,
            tb: true,
        },
        inputs: vec![x, w],
        shape: vec![4, 2],
        name: "transposed".to_string(),
    });
    let errors = verify(&g).unwrap_err();
    assert_eq!(
        errors,
        vec![VerifyError::WrongShape {
            node: bad,
            name: "transposed".to_string(),
            op: "matmul",
            expected: vec![2, 4],
            recorded: vec![4, 2],
        }]
    );
}

#[test]
fn operands_must_exist_and_come_first() {
    let (mut g, x, _, _) = valid();
    let missing = NodeId::new(99);
    g.push_unchecked(Node {
        op: Op::Neg,
        inputs: vec![missing],
        shape: vec![2, 3],
        name: "reads nothing".to_string(),
    });
    let ahead = NodeId::new(g.len() + 1);
    g.push_unchecked(Node {
        op: Op::Add,
        inputs: vec![x, ahead],
        shape: vec![2, 3],
        name: "reads ahead".to_string(),
    });
    let errors = verify(&g).unwrap_err();
    assert!(matches!(errors[0], VerifyError::MissingOperand { operand, .. } if operand == missing));
    assert!(matches!(errors[1], VerifyError::MissingOperand { .. }));
    // An operand that exists but comes later.
    let mut g = valid().0;
    let later = NodeId::new(g.len() + 1);
    let first = g.push_unchecked(Node {
        op: Op::Neg,
        inputs: vec![later],
        shape: vec![2, 3],
        name: "early".to_string(),
    });
    g.push_unchecked(Node {
        op: Op::Neg,
        inputs: vec![first],
        shape: vec![2, 3],
        name: "late".to_string(),
    });
    let errors = verify(&g).unwrap_err();
    assert!(matches!(errors[0], VerifyError::ForwardReference { node, .. } if node == first));
}

#[test]
fn outputs_inputs_and_batches() {
    let (mut g, _, _, y) = valid();
    g.add_output("y", OutputKind::Prediction, y);
    g.add_output("gone", OutputKind::Cost, NodeId::new(50));
    g.add(
        Op::Input {
            kind: InputKind::Param(0),
            shape: vec![1],
        },
        vec![],
        "w again",
    )
    .unwrap();
    g.add(
        Op::Input {
            kind: InputKind::Target,
            shape: vec![3, 4],
        },
        vec![],
        "target",
    )
    .unwrap();
    let errors = verify(&g).unwrap_err();
    assert!(errors.contains(&VerifyError::DuplicateOutput {
        output: "y".to_string()
    }));
    assert!(errors.contains(&VerifyError::MissingOutput {
        output: "gone".to_string(),
        node: NodeId::new(50)
    }));
    assert!(errors.iter().any(|e| matches!(
        e,
        VerifyError::DuplicateInput {
            kind: InputKind::Param(0),
            ..
        }
    )));
    assert!(errors
        .iter()
        .any(|e| matches!(e, VerifyError::BatchSize { batch_size: 2, .. })));
}

#[test]
fn graph_add_applies_the_shape_rule() {
    let (mut g, x, _, _) = valid();
    let error = g
        .add(
            Op::Conv2d {
                stride: [1, 1],
                padding: [0; 4],
            },
            vec![x, x],
            "conv",
        )
        .unwrap_err();
    assert!(
        error.to_string().contains("operand 0 must have rank 4"),
        "{error}"
    );
}
