"""Offline checks of the Kubernetes manifests: the real kustomize and the operators' own CRD schemas.

Both come from released, pinned artifacts and are built or fetched once into the qcp cache
(``QCP_CACHE_DIR``, by default ``~/.cache/qcp``):

* :mod:`qcp.k8s.kustomize` builds kustomize's own library (``sigs.k8s.io/kustomize/api``) with Go;
* :mod:`qcp.k8s.crds` takes the operators' CustomResourceDefinitions from their Go modules and, for
  Strimzi, generates them from its released API jar with Strimzi's own CRD generator;
* :mod:`qcp.k8s.validation` validates rendered objects: built-in kinds against the Kubernetes
  OpenAPI schemas, custom resources against their CRD's ``openAPIV3Schema``.
"""

from __future__ import annotations


class K8sToolError(Exception):
    """A tool or schema the manifest checks need could not be built, fetched or run; the message says why."""
