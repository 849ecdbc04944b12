"""Connectors: one package per app kind, plus what they share.

Shared modules: ``base`` (capability protocols, ``Member``/``Role``/``Asset``/``Permission``,
``AutomationAccount``/``Secret``/``Credentials``), ``errors`` (the ``ConnectorError`` tree), ``http``
(``VendorHTTP``, ``HTTPSettings``, ``raise_for_vendor``, the ``Classifier`` hook), ``registry``
(``CATALOG``, ``ConnectorSpec``, ``register``, ``capabilities``, ``create_connector``) and ``sandbox``
(the fakes). ``connectors.github`` is the reference kind: copy its shape.

How to add a kind (``<kind>`` is the catalog key, e.g. ``slack``)
-------------------------------------------------------------------
1. ``connectors/<kind>/client.py``: the vendor API, typed. Build one ``VendorHTTP(kind, base_url,
   auth_headers={...: account.api_token}, headers=..., settings=settings, classifier=...)``; the
   classifier maps body-level signals (TikTok ``code``, Slack ``ok:false``, Meta ``error.code``) to
   ``RateLimited`` / ``AuthError`` / ... and returns ``None`` otherwise. Parse payloads into small
   frozen dataclasses with ``parse_*`` functions (the sample tests call them). Page with async
   generators (``iter_link_pages`` for RFC 8288 Link paging, or your own loop).
2. ``connectors/<kind>/connector.py``: ``class XConnector(ListsMembers, InvitesMembers, ...)`` with
   ``kind: ClassVar[str] = "<kind>"``, ``check()``, ``aclose()``, and only the capability methods the
   vendor supports. Make every write idempotent (look the effect up after an ``InvalidRequest``
   raised by a retried POST; treat ``NotFound`` on delete as success). A pending invitation's
   ``Member.remote_id`` must be accepted by ``remove()``.
3. ``connectors/<kind>/__init__.py``: ``register(ConnectorSpec(kind=..., name=..., cls=XConnector,
   factory=make_connector, base_url=<production>, needs_business_id=..., login_methods=...,
   account_fields=("api_token",), roles=(Role("admin", "Admin", owner_level=True), ...)))``.
   ``connectors.registry.KIND_PACKAGES`` already lists the eight planned kinds (one line each); a
   new kind adds its line there.
4. ``connectors/sandbox/<kind>.py``: ``class XFake(KindFake)`` with ``kind``, ``routes()`` (the
   vendor's paths, relative to ``/<kind>``, reading/writing ``self.store`` -- the generic
   ``SandboxStore``), ``remote_id(member)`` (must equal the connector's ``Member.remote_id``; roles
   are stored as the connector's role keys), the vendor's ``render_rate_limited`` /
   ``render_unavailable`` / ``render_auth_expired``, and demo attributes (``demo_org``,
   ``owner_role``, ``member_role``, ``asset_type``, ``asset_permission``); end the module with
   ``FAKE = XFake``. Seed/state/accept/faults then work with no more code.
5. ``tests/connectors/samples/<kind>/*.json`` from ``shared/vendor-apis.md``, and
   ``tests/connectors/test_<kind>_*.py``: a samples test (client parses them, the fake returns the
   same shape: ``tests.connectors.shapes.assert_same_shape``) and
   ``class TestX(ListsMembersContract, InvitesMembersContract, ...)`` (each contract is a
   ``tests.contracts.KindContract``) with ``kind = "<kind>"`` and the class attributes
   ``KindContract`` documents (``org_id``, ``asset_type``, ``permissions`` ...). Capabilities the
   connector lacks are skipped by the contracts, never faked.
"""
