-- An invitation can be revoked until it is used.
ALTER TABLE invitations ADD COLUMN revoked_at timestamptz;
