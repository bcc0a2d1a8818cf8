"""Reads a product SSO JWT as a product would, with PyJWT (an implementation independent of
idbridge's), and checks it against the documented format (docs/products.md, "The token").

    python3 product_token_check.py hub TOKEN SECRET HUB_DOMAIN
    python3 product_token_check.py workspace TOKEN SECRET IDENTIFIER:DOMAIN

Prints the claims as JSON; exits non-zero, saying why, when the token does not verify or does
not keep to its format."""
import json
import sys

import jwt

HUB_CLAIMS = {"iss", "iat", "exp", "jti", "aud", "hub_id", "user"}
HUB_USER = {"id", "email", "name", "given_name", "family_name", "custom_data", "organization"}
WORKSPACE_CLAIMS = {"iss", "sub", "iat", "nbf", "exp", "jti", "redirect_to"}


def check_hub(token, secret, hub_domain):
    claims = jwt.decode(
        token,
        secret,
        algorithms=["HS256"],
        audience=hub_domain,
        options={"require": ["exp", "iat", "aud", "jti"]},
    )
    assert set(claims) <= HUB_CLAIMS, f"claims outside the format: {set(claims) - HUB_CLAIMS}"
    user = claims["user"]
    assert set(user) <= HUB_USER, f"user keys outside the format: {set(user) - HUB_USER}"
    for key in ("id", "email", "name"):
        assert isinstance(user[key], str), f"user.{key} must be a string"
    assert user["custom_data"] == {}, "user.custom_data must be {}"
    for key in ("given_name", "family_name"):
        if key in user:
            assert isinstance(user[key], str) and user[key], f"user.{key}, when present, names"
    if "organization" in user:
        organization = user["organization"]
        assert isinstance(organization, dict), "user.organization is absent or an object"
        assert set(organization) == {"id", "name", "custom_data"}, organization
        assert set(organization["custom_data"]) == {"level", "path"}, organization
    return claims


def check_workspace(token, secret, subject):
    claims = jwt.decode(
        token,
        secret,
        algorithms=["HS256"],
        options={"require": ["exp", "nbf", "iat", "sub"], "verify_aud": False},
    )
    assert set(claims) <= WORKSPACE_CLAIMS, set(claims) - WORKSPACE_CLAIMS
    assert claims["sub"] == subject, f"sub {claims['sub']!r}, expected {subject!r}"
    identifier, _, domain = claims["sub"].rpartition(":")
    assert "@" in identifier and domain, "sub is {email}:{domain}"
    return claims


def main():
    kind, token, secret, expected = sys.argv[1:5]
    check = {"hub": check_hub, "workspace": check_workspace}[kind]
    print(json.dumps(check(token, secret, expected)))


if __name__ == "__main__":
    main()
