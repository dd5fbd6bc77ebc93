//! A strided f32 matrix on host memory, as a CPU tensor stores it (any row and column strides).

/// Rows × columns of f32 at `data[offset + i·row_stride + j·col_stride]`.
#[derive(Debug, Clone, Copy)]
pub struct MatRef<'a> {
    data: &'a [f32],
    offset: usize,
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> MatRef<'a> {
    /// A view, checked to lie inside `data`. `None` when it does not (or a dimension is 0).
    pub fn new(
        data: &'a [f32],
        offset: usize,
        [rows, cols]: [usize; 2],
        [row_stride, col_stride]: [usize; 2],
    ) -> Option<Self> {
        if rows == 0 || cols == 0 {
            return None;
        }
        let last = offset + (rows - 1) * row_stride + (cols - 1) * col_stride;
        (last < data.len()).then_some(Self {
            data,
            offset,
            rows,
            cols,
            row_stride,
            col_stride,
        })
    }

    /// A dense row-major view of `rows × cols` values.
    pub fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Option<Self> {
        if data.len() != rows * cols {
            return None;
        }
        Self::new(data, 0, [rows, cols], [cols, 1])
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The `rows × cols` block whose first element is at row `i`, column `j` (clipped to the
    /// matrix).
    pub fn block(&self, i: usize, j: usize, rows: usize, cols: usize) -> Self {
        assert!(i < self.rows && j < self.cols, "MatRef::block out of range");
        Self {
            offset: self.offset + i * self.row_stride + j * self.col_stride,
            rows: rows.min(self.rows - i),
            cols: cols.min(self.cols - j),
            ..*self
        }
    }

    /// The transposed view.
    pub fn t(&self) -> Self {
        Self {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..*self
        }
    }

    /// Column `j` as a slice, when the column is contiguous (row stride 1).
    pub fn contiguous_column(&self, j: usize) -> Option<&'a [f32]> {
        let start = self.offset + j * self.col_stride;
        (self.row_stride == 1 && j < self.cols).then(|| &self.data[start..start + self.rows])
    }

    /// The storage from the first element on and the row stride, when rows are contiguous
    /// (column stride 1): row `i` starts at `i · stride`.
    pub fn contiguous_rows(&self) -> Option<(&'a [f32], usize)> {
        (self.col_stride == 1).then(|| (&self.data[self.offset..], self.row_stride))
    }

    /// The element at row `i`, column `j`.
    pub fn at(&self, i: usize, j: usize) -> f32 {
        self.data[self.offset + i * self.row_stride + j * self.col_stride]
    }

    /// Pointer to the element at row `i`, column `j`, with the strides, for a matrix kernel.
    /// `i` and `j` must be in range (checked).
    pub fn ptr_at(&self, i: usize, j: usize) -> (*const f32, isize, isize) {
        assert!(
            i < self.rows && j < self.cols,
            "MatRef::ptr_at out of range"
        );
        let at = &self.data[self.offset + i * self.row_stride + j * self.col_stride];
        (at, self.row_stride as isize, self.col_stride as isize)
    }
}
