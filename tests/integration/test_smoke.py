from omniretail.channels import service


def test_standard_channels_are_registered_by_the_migration(db):
    with db.read() as s:
        codes = [c.code for c in service.list_channels(s)]
    assert codes == sorted(["web", "app", "pos", "call_centre", "chat", "email", "sms", "messenger", "social",
                            "marketplace"])
