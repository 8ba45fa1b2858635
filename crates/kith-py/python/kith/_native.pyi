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
    def score_bucket(
        batch: pa.RecordBatch,
        *,
        threshold: float,
        dedupe: bool,
        exact_names: List[str],
        max_bucket: int,
        exact_veto: bool = ...,
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
    ) -> None: ...
