"""Test layers: unit and contract tests need nothing; integration and e2e use the real local stack."""
