"""Odd input at the HTTP edge: NUL characters, bodies that are not text, wrong methods."""

from sqlalchemy import func, select

from omniretail.catalog.models import Product


def test_a_nul_character_in_a_body_is_refused_and_nothing_is_written(client, admin, db):
    response = client.post("/api/v1/products", headers=admin,
                           json={"sku": "N1", "name": "Nul\u0000name", "price": {"amount": "1.00"}})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "invalid_text" and response.json()["errors"][0]["field"] == "body"
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Product)) == 0


def test_a_nul_character_in_the_query_or_path_is_refused(client, admin):
    assert client.get("/api/v1/products?q=milk%00", headers=admin).json()["errors"][0]["field"] == "query"
    assert client.get("/api/v1/products/A%00B", headers=admin).json()["errors"][0]["field"] == "path"


def test_a_body_that_is_not_utf8_is_malformed_json(client, admin):
    response = client.post("/api/v1/products", headers={**admin, "content-type": "application/json"},
                           content=b"\xff\xfe{")
    assert response.status_code == 422
    assert response.json()["code"] == "malformed_json"


def test_a_wrong_method_names_the_allowed_ones(client):
    response = client.delete("/healthz")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
    assert response.json()["code"] == "method_not_allowed"
