//! Classification metrics computed on the host from logits: top-k accuracy, mean loss and
//! the confusion matrix.

use serde::{Deserialize, Serialize};

/// Largest number of classes for which a confusion matrix is kept.
pub const MAX_CONFUSION_CLASSES: usize = 100;

/// Accumulated results of an evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Images seen.
    pub images: usize,
    /// Images whose label is the top prediction.
    pub top1_correct: usize,
    /// Images whose label is among the five top predictions.
    pub top5_correct: usize,
    /// Sum of the per-image cross-entropy.
    pub loss_sum: f64,
    /// `confusion[label][predicted]`, for at most [`MAX_CONFUSION_CLASSES`] classes.
    pub confusion: Option<Vec<Vec<u64>>>,
    /// The top prediction of every image, in the order they were added.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub predictions: Vec<u32>,
}

impl Evaluation {
    /// An empty evaluation over `classes` classes.
    pub fn new(classes: usize) -> Self {
        Self {
            images: 0,
            top1_correct: 0,
            top5_correct: 0,
            loss_sum: 0.0,
            confusion: (classes <= MAX_CONFUSION_CLASSES).then(|| vec![vec![0; classes]; classes]),
            predictions: Vec::new(),
        }
    }

    /// Adds a batch: `logits` row-major `[labels.len(), classes]`.
    pub fn add(&mut self, logits: &[f32], labels: &[i64]) {
        let classes = logits.len() / labels.len().max(1);
        for (row, &label) in logits.chunks_exact(classes).zip(labels) {
            let label = label as usize;
            let target = row[label];
            // Rank of the label: how many classes score strictly higher (ties favour it).
            let higher = row.iter().filter(|&&v| v > target).count();
            self.top1_correct += usize::from(higher == 0);
            self.top5_correct += usize::from(higher < 5);
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let log_sum = row
                .iter()
                .map(|v| ((v - max) as f64).exp())
                .sum::<f64>()
                .ln();
            self.loss_sum += log_sum - (target - max) as f64;
            let predicted = argmax(row);
            if let Some(m) = &mut self.confusion {
                m[label][predicted] += 1;
            }
            self.predictions.push(predicted as u32);
            self.images += 1;
        }
    }

    /// Top-1 accuracy in `[0, 1]`.
    pub fn top1(&self) -> f64 {
        self.top1_correct as f64 / self.images.max(1) as f64
    }

    /// Top-5 accuracy in `[0, 1]`.
    pub fn top5(&self) -> f64 {
        self.top5_correct as f64 / self.images.max(1) as f64
    }

    /// Mean cross-entropy (no label smoothing).
    pub fn loss(&self) -> f64 {
        self.loss_sum / self.images.max(1) as f64
    }

    /// The confusion matrix as a text table: rows are labels, columns predictions.
    pub fn confusion_table(&self, class_names: Option<&[String]>) -> Option<String> {
        let m = self.confusion.as_ref()?;
        let name = |i: usize| {
            class_names
                .and_then(|n| n.get(i).cloned())
                .unwrap_or_else(|| i.to_string())
        };
        let width = (0..m.len())
            .map(|i| name(i).len())
            .chain(m.iter().flatten().map(|v| v.to_string().len()))
            .max()
            .unwrap_or(1)
            .max(3);
        let first = width.max("label".len());
        let mut out = format!("{:>first$} |", "label");
        for j in 0..m.len() {
            out += &format!(" {:>width$}", name(j));
        }
        out += "\n";
        for (i, row) in m.iter().enumerate() {
            out += &format!("{:>first$} |", name(i));
            for v in row {
                out += &format!(" {v:>width$}");
            }
            out += "\n";
        }
        Some(out)
    }
}

fn argmax(row: &[f32]) -> usize {
    row.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |(bi, bv), (i, &v)| {
            if v > bv { (i, v) } else { (bi, bv) }
        })
        .0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_top1_top5_loss_and_confusion_by_hand() {
        let mut e = Evaluation::new(6);
        // Label 0 ranked first; label 5 ranked sixth; label 2 ranked second.
        let logits = [
            [5.0, 1.0, 0.0, 0.0, 0.0, 0.0],
            [6.0, 5.0, 4.0, 3.0, 2.0, 1.0],
            [1.0, 0.0, 0.5, 0.0, 0.0, 0.0],
        ];
        let flat: Vec<f32> = logits.iter().flatten().copied().collect();
        e.add(&flat, &[0, 5, 2]);
        assert_eq!((e.images, e.top1_correct, e.top5_correct), (3, 1, 2));
        let ce = |row: &[f32], label: usize| {
            let z: f64 = row.iter().map(|&v| (v as f64).exp()).sum();
            z.ln() - row[label] as f64
        };
        let expected = (ce(&logits[0], 0) + ce(&logits[1], 5) + ce(&logits[2], 2)) / 3.0;
        assert!((e.loss() - expected).abs() < 1e-9);
        let m = e.confusion.as_ref().unwrap();
        assert_eq!(m[0][0], 1);
        assert_eq!(m[5][0], 1);
        assert_eq!(m[2][0], 1);
        assert!(e.confusion_table(None).unwrap().contains("label |"));
    }

    #[test]
    fn many_classes_keep_no_confusion_matrix() {
        assert!(Evaluation::new(1000).confusion.is_none());
    }
}
