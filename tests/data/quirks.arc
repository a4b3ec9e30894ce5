filedesc://quirks.arc 0.0.0.0 20010101000000 text/plain 76
1 0 InternetArchive
URL IP-address Archive-date Content-type Archive-length

http://site-d.test/ 192.0.2.1 20010101120000 text/html 201
HTTP/1.1 200 OK
Content-Type: text/html
Content-Length: 136

<html><head><title>Quirky page</title></head><body><p>An old capture of site D, kept by a tool with habits of its own.</p></body></html>
http://site-d.test/notes.txt 192.0.2.2 20010101120001 text/plain 88
HTTP/1.1 200 OK
Content-Type: text/plain
Content-Length: 23

Plain notes of site D.

http://site-d.test/gone 192.0.2.3 20010101120002 text/html 74
HTTP/1.1 404 Not Found
Content-Type: text/html
Content-Length: 4

gone
