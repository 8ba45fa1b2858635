from typing import Any, Dict, List, Optional, Tuple

import pyarrow as pa

class KithError(Exception): ...

class holder:
    @staticmethod
    def holder_run(argv: List[str]) -> None: ...
    @staticmethod
    def schema_info(path: str) -> Dict[str, Any]: ...
    @staticmethod
    def encode_batch(
        schema: str,
        batch: pa.RecordBatch,
        *,
        party: str,
        secret_file: Optional[str] = ...,
        mapping: Optional[str] = ...,
        id_column: Optional[str] = ...,
    ) -> Tuple[pa.RecordBatch, pa.RecordBatch]: ...

class linkage:
    @staticmethod
    def linkage_run(argv: List[str]) -> None: ...
    @staticmethod
    def read_encodings(path: str) -> Tuple[pa.RecordBatch, Dict[str, Any]]: ...
    @staticmethod
    def record_keys(
        batch: pa.RecordBatch, *, header_line: str, blocks: bool, lsh_tables: int = ..., lsh_bits: int = ...
    ) -> pa.RecordBatch: ...
    @staticmethod
    def value_hashes(batch: pa.RecordBatch, *, header_line: str) -> pa.RecordBatch: ...
    @staticmethod
    def fit_patterns(
        queries: pa.RecordBatch,
        batch: pa.RecordBatch,
        *,
        j: int,
        inputs: int,
        header_line: str,
        values: pa.RecordBatch,
        present: List[int],
        singles: List[int],
        dedupe: bool,
    ) -> pa.RecordBatch: ...
    @staticmethod
    def fit_model(
        patterns: pa.RecordBatch,
        random: pa.RecordBatch,
        *,
        header_line: str,
        values: pa.RecordBatch,
        present: List[int],
        singles: List[int],
        sizes: List[int],
        sampled: List[int],
        dedupe: bool,
    ) -> str: ...
    @staticmethod
    def score_bucket(
        batch: pa.RecordBatch,
        *,
        inputs: int,
        header_line: str,
        threshold: float,
        dedupe: bool,
        max_bucket: int,
        exact_veto: bool = ...,
        model_json: Optional[str] = ...,
        values: Optional[pa.RecordBatch] = ...,
        present: Optional[List[int]] = ...,
        singles: Optional[List[int]] = ...,
        candidate_floor: float = ...,
        score_from: float = ...,
    ) -> pa.RecordBatch: ...
    @staticmethod
    def solve_candidates(
        sources: List[str],
        names: List[pa.RecordBatch],
        candidates: pa.RecordBatch,
        *,
        threshold: float,
        output: str,
        dedupe: bool = ...,
        model_json: Optional[str] = ...,
        review: Optional[float] = ...,
    ) -> None: ...
    @staticmethod
    def write_encodings(batch: pa.RecordBatch, *, header_line: str, path: str) -> None: ...
