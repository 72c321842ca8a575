// The engine implements the session protocol of `Sessions`; importing Training brings both.
@_exported import Sessions
