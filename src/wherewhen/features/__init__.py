"""Feature extraction job and the on-disk feature store."""

from wherewhen.features.store import FeatureRecord, FeatureStore, StoreInfo

__all__ = ["FeatureRecord", "FeatureStore", "StoreInfo"]
