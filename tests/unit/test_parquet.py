"""The fast Parquet read gives the frame pandas gives, whatever the file holds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shared.parquet import dictionary_string_columns, read_parquet


def _frame(rows: int = 3_000) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    levels = np.array(["a", "b", "c", "é"], dtype=object)
    with_missing = levels[rng.integers(0, 4, rows)]
    with_missing[rng.random(rows) < 0.1] = None
    return pd.DataFrame(
        {
            "level": levels[rng.integers(0, 4, rows)],
            "with_missing": with_missing,
            "unique": [f"id-{i}" for i in range(rows)],
            "number": rng.normal(size=rows),
            "flag": rng.random(rows) < 0.5,
            "category": pd.Categorical(levels[rng.integers(0, 3, rows)]),
            "text": pd.array(levels[rng.integers(0, 4, rows)], dtype="string"),
        }
    )


def test_the_frame_is_the_one_pandas_reads(tmp_path):
    frame = _frame()
    path = tmp_path / "data.parquet"
    frame.to_parquet(path, index=False, row_group_size=700)  # several row groups
    read = read_parquet(path)
    plain = pd.read_parquet(path)
    pd.testing.assert_frame_equal(read, plain)
    assert list(read.dtypes) == list(plain.dtypes)
    # missing strings are None, as pyarrow gives them, not NaN
    assert read["with_missing"].isna().sum() == plain["with_missing"].isna().sum() > 0
    assert all(value is None for value in read["with_missing"][read["with_missing"].isna()])
    # read as a dictionary: one string object per distinct value
    assert "level" in dictionary_string_columns(path)
    assert len({id(value) for value in read["level"]}) == 4


def test_an_index_and_a_string_dtype_are_kept(tmp_path):
    frame = _frame().set_index("level")
    path = tmp_path / "indexed.parquet"
    frame.to_parquet(path)
    read = read_parquet(path)
    pd.testing.assert_frame_equal(read, pd.read_parquet(path))
    assert read.index.dtype == object and read["text"].dtype == "string"
    assert "level" not in dictionary_string_columns(path)
    assert "text" not in dictionary_string_columns(path)


def test_a_file_without_dictionaries_or_pandas_metadata(tmp_path):
    table = pa.table({"word": ["x", "y", None, "x"], "n": [1, 2, 3, 4]})
    plain_path, dictionary_path = tmp_path / "plain.parquet", tmp_path / "dict.parquet"
    pq.write_table(table, plain_path, use_dictionary=False)
    pq.write_table(table, dictionary_path)
    assert dictionary_string_columns(plain_path) == []
    assert dictionary_string_columns(dictionary_path) == ["word"]
    for path in (plain_path, dictionary_path):
        pd.testing.assert_frame_equal(read_parquet(path), pd.read_parquet(path))


def test_an_unreadable_file_raises_as_pandas_does(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"not parquet")
    with pytest.raises(pa.ArrowInvalid):
        read_parquet(path)
