#!/usr/bin/perl

# max_headers (nginx 1.29.8 and later, and Debian's 1.22.1 through a
# security patch): a request with more header lines than allowed is
# answered 400 (nginx's 494) and closed in a lingering close, nginx's FIN
# first: error_response.  A request at the limit is served and kept
# alive.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use TwTest;

my $t = TwTest->new(netns => 1);
$t->need_netns;

$t->write_conf(<<'EOF');
%%TEST_GLOBALS%%
events { }
http {
    %%TEST_GLOBALS_HTTP%%
    lingering_timeout 1s;
    server {
        listen 127.0.0.1:%%PORT%%;
        max_headers 4;
        location / { return 200 "ok\n"; }
    }
    %%STATUS_SERVER%%
}
EOF

# the directive is there or not, whatever the version says
my ($rc, $out) = $t->nginx_t;
plan skip_all => 'this nginx has no max_headers (nginx 1.29.8 or later)'
    if $rc != 0 && $out =~ /unknown directive "max_headers"/;

$t->run;

my $n = 3;

sub headers {
    my ($count) = @_;
    return "GET / HTTP/1.1\r\nHost: x\r\n"
        . join('', map { "X-H$_: v\r\n" } 2 .. $count) . "\r\n";
}

# one header line too many

$t->case_ok(name => 'too many header lines', n => $n,
            run => sub {
                my $r = $t->request(headers(5));
                die "no response\n" unless $r;
                die "status $r->{status}, expected 400\n"
                    unless $r->{status} == 400;
            },
            expect => { 'error_response/server' => $n },
            tw_server => $n, tw_client => 0);

# the same while a body is still coming: nginx shuts its side first and
# reads on, the client sees the FIN and closes

$t->case_ok(name => 'too many header lines, body following', n => $n,
            run => sub {
                my $s = $t->connect;
                my $raw = headers(6);
                $raw =~ s/^GET/POST/;
                $raw =~ s/\r\n\r\n$/\r\nContent-Length: 100000\r\n\r\n/;
                $t->send_raw($s, $raw . ('b' x 100));
                my $r = $t->read_response($s);
                die "no response\n" unless $r && $r->{status} == 400;
                $t->send_raw($s, 'b' x 100);
                my $how = $t->wait_close($s);
                die "got $how\n" unless $how eq 'eof';
                $t->close($s);
            },
            expect => { 'error_response/server' => $n },
            tw_server => $n, tw_client => 0);

# at the limit: served, kept alive, closed by the client

$t->case_ok(name => 'header lines at the limit', n => $n,
            run => sub {
                my $s = $t->request(headers(4), keep => 1);
                $t->close($s);
            },
            expect => { 'client_idle/client' => $n },
            tw_server => 0, tw_client => $n);

$t->done;
