/* status_page.c - the HTML status page at / : nodes per state, the node table, a pin form (no framework, offline). */
#include "status_page.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mac.h"

int html_escape(sbuf *out, const char *s)
{
	int rc = 0;
	for (; s && *s && !rc; s++) {
		switch (*s) {
		case '&': rc = sbuf_puts(out, "&amp;"); break;
		case '<': rc = sbuf_puts(out, "&lt;"); break;
		case '>': rc = sbuf_puts(out, "&gt;"); break;
		case '"': rc = sbuf_puts(out, "&quot;"); break;
		case '\'': rc = sbuf_puts(out, "&#39;"); break;
		default: rc = sbuf_putc(out, *s);
		}
	}
	return rc;
}

static const char page_head[] =
    "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>autopxe status</title>\n<style>\n"
    ":root{--bg:#fff;--fg:#1b1f24;--mute:#57606a;--line:#d0d7de;--menu:#0969da;--kernel:#8250df;"
    "--initrd:#bf8700;--booted:#1a7f37;--failed:#cf222e}\n"
    "*{box-sizing:border-box}body{margin:0;font:15px/1.4 system-ui,sans-serif;color:var(--fg);background:var(--bg)}\n"
    "header,main{padding:.75rem 1rem;max-width:70rem;margin:auto}h1{font-size:1.3rem;margin:.2rem 0}\n"
    "h2{font-size:1.05rem;margin:1rem 0 .4rem}\n"
    ".counts{display:flex;flex-wrap:wrap;gap:.5rem;list-style:none;padding:0;margin:.5rem 0}\n"
    ".counts li{border:1px solid var(--line);border-left:6px solid var(--c);border-radius:6px;padding:.35rem .7rem;"
    "min-width:6.5rem}\n.counts b{display:block;font-size:1.4rem}\n"
    ".s-menu{--c:var(--menu)}.s-kernel{--c:var(--kernel)}.s-initrd{--c:var(--initrd)}.s-booted{--c:var(--booted)}"
    ".s-failed{--c:var(--failed)}\n"
    ".state{font-weight:600;color:var(--c)}\n"
    "table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid "
    "var(--line);vertical-align:top}\nth{font-size:.85rem;color:var(--mute)}td.mac,td.boot{font-family:ui-monospace,"
    "monospace;word-break:break-all}\n"
    "form{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end}label{display:flex;flex-direction:column;"
    "font-size:.85rem;color:var(--mute)}\n"
    "label.inline{flex-direction:row;align-items:center;gap:.3rem;color:var(--fg)}\n"
    "input,button{font:inherit;padding:.35rem .5rem;border:1px solid var(--line);border-radius:6px}\n"
    "input[type=checkbox]{padding:0}button{background:#f6f8fa;cursor:pointer}\n"
    ":focus-visible{outline:3px solid var(--menu);outline-offset:1px}\n"
    "#msg{min-height:1.4em;margin:.3rem 0}.muted{color:var(--mute)}.warn{color:var(--failed);font-weight:600}\n"
    "@media (max-width:40rem){form label{flex:1 1 100%}form label.inline{flex:0 0 auto}thead{display:none}table,tbody,tr,td{display:block;width:100%}"
    "tr{border:1px solid var(--line);border-radius:6px;margin:.4rem 0;padding:.2rem}td{border:0;padding:.15rem .5rem}"
    "td::before{content:attr(data-label) \": \";color:var(--mute);font-size:.85rem}}\n"
    "</style>\n</head>\n<body>\n<header>\n<h1>autopxe status</h1>\n";

static const char page_script[] =
    "<script>\n"
    "(function(){\n"
    "'use strict';\n"
    "var STATES=['menu','kernel','initrd','booted','failed'];\n"
    "var last=null;\n"
    "function age(s){if(s<60)return s+' s';if(s<3600)return Math.floor(s/60)+' min';return Math.floor(s/3600)+' h';}\n"
    "function cell(tr,label,text,cls){var td=document.createElement('td');td.setAttribute('data-label',label);"
    "if(cls)td.className=cls;td.textContent=text;tr.appendChild(td);return td;}\n"
    "function render(){if(!last)return;var f=document.getElementById('filter').value.trim().toLowerCase();\n"
    " var tb=document.getElementById('nodes-body');var rows=document.createDocumentFragment();var shown=0;\n"
    " last.nodes.forEach(function(n){var hay=(n.mac+' '+n.state+' '+n.boot_id+' '+n.ip+' '+n.last_event).toLowerCase();\n"
    "  if(f&&hay.indexOf(f)<0)return;shown++;var tr=document.createElement('tr');\n"
    "  cell(tr,'MAC',n.mac,'mac');var st=cell(tr,'State',n.state,'state s-'+n.state);\n"
    "  cell(tr,'Boot id',n.boot_id+(n.pin?' (pin: '+n.pin.boot+(n.pin.once?', once':'')+')':''),'boot');\n"
    "  cell(tr,'IP',n.ip);cell(tr,'Last event',n.last_event);cell(tr,'Age',age(n.age_s));rows.appendChild(tr);});\n"
    " tb.replaceChildren(rows);\n"
    " document.getElementById('shown').textContent=shown+' of '+last.nodes.length+' nodes';\n"
    " STATES.forEach(function(s){var e=document.getElementById('count-'+s);if(e)e.textContent=last.counts[s];});}\n"
    "function poll(){var x=new XMLHttpRequest();x.open('GET','/api/v1/nodes');x.onload=function(){\n"
    " if(x.status===200){try{last=JSON.parse(x.responseText);render();"
    "document.getElementById('updated').textContent='updated '+new Date().toLocaleTimeString();}catch(e){}}};\n"
    " x.send();}\n"
    "function say(t,bad){var m=document.getElementById('msg');m.textContent=t;m.className=bad?'warn':'';}\n"
    "function pinReq(method,body){var mac=document.getElementById('pin-mac').value.trim();\n"
    " if(!mac){say('enter a MAC address',true);document.getElementById('pin-mac').focus();return;}\n"
    " var x=new XMLHttpRequest();x.open(method,'/api/v1/hosts/'+encodeURIComponent(mac)+'/pin');\n"
    " var tok=document.getElementById('pin-token').value.trim();if(tok)x.setRequestHeader('Authorization','Bearer '+tok);\n"
    " x.setRequestHeader('Content-Type','application/json');\n"
    " x.onload=function(){var t='';try{var j=JSON.parse(x.responseText);t=j.message||('pinned '+j.mac+' to '+j.boot);}"
    "catch(e){t=x.responseText;}say((x.status===200?'':'error '+x.status+': ')+t,x.status!==200);poll();};\n"
    " x.onerror=function(){say('request failed',true);};x.send(body||'');}\n"
    "document.getElementById('filter').addEventListener('input',render);\n"
    "document.getElementById('pin-form').addEventListener('submit',function(ev){ev.preventDefault();\n"
    " var b={boot:document.getElementById('pin-boot').value.trim(),once:document.getElementById('pin-once').checked};\n"
    " var u=document.getElementById('pin-until').value.trim();if(u)b.until=u;pinReq('POST',JSON.stringify(b));});\n"
    "document.getElementById('pin-clear').addEventListener('click',function(){pinReq('DELETE');});\n"
    "var cx=new XMLHttpRequest();cx.open('GET','/api/v1/catalog');cx.onload=function(){try{var c=JSON.parse(cx.responseText);\n"
    " var dl=document.getElementById('boot-ids');c.distros.forEach(function(d){d.releases.forEach(function(r){"
    "r.boot_ids.forEach(function(id){var o=document.createElement('option');o.value=id;dl.appendChild(o);});});});}"
    "catch(e){}};cx.send();\n"
    "poll();setInterval(poll,2000);\n"
    "})();\n"
    "</script>\n";

int status_page_render(const struct store_node *nodes, size_t n, const size_t counts[NODE_NSTATES], int64_t now_ms,
                       int store_on, const char *degraded, sbuf *out)
{
	int rc = sbuf_puts(out, page_head);
	char mac[18];
	if (!store_on)
		rc |= sbuf_puts(out, "<p class=\"warn\">The state store is off (StateStore: false): no timeline, no pins.</p>\n");
	else if (degraded && *degraded) {
		rc |= sbuf_puts(out, "<p class=\"warn\">State degraded: ");
		rc |= html_escape(out, degraded);
		rc |= sbuf_puts(out, "</p>\n");
	}
	rc |= sbuf_puts(out, "<ul class=\"counts\" aria-label=\"Nodes per state\">\n");
	for (int i = 0; i < NODE_NSTATES; i++)
		rc |= sbuf_printf(out, "<li class=\"s-%s\"><b id=\"count-%s\">%zu</b>%s</li>\n",
		                  node_state_name((enum node_state)i), node_state_name((enum node_state)i), counts[i],
		                  node_state_name((enum node_state)i));
	rc |= sbuf_puts(out, "</ul>\n<p class=\"muted\"><span id=\"shown\"></span> <span id=\"updated\"></span></p>\n"
	                     "</header>\n<main>\n"
	                     "<h2 id=\"pin-h\">Pin a node</h2>\n"
	                     "<form id=\"pin-form\" aria-labelledby=\"pin-h\">\n"
	                     "<label for=\"pin-mac\">MAC address<input id=\"pin-mac\" name=\"mac\" required "
	                     "autocomplete=\"off\" placeholder=\"52:54:00:12:34:56\"></label>\n"
	                     "<label for=\"pin-boot\">Boot id<input id=\"pin-boot\" name=\"boot\" list=\"boot-ids\" "
	                     "autocomplete=\"off\" placeholder=\"distro/release/latest/template\"></label>\n"
	                     "<datalist id=\"boot-ids\"></datalist>\n"
	                     "<label for=\"pin-until\">Until (RFC 3339, optional)<input id=\"pin-until\" name=\"until\" "
	                     "placeholder=\"2026-12-03T18:00:00Z\"></label>\n"
	                     "<label class=\"inline\" for=\"pin-once\"><input type=\"checkbox\" id=\"pin-once\" "
	                     "name=\"once\" checked> once</label>\n"
	                     "<label for=\"pin-token\">API token (not needed on loopback)<input id=\"pin-token\" "
	                     "type=\"password\" autocomplete=\"off\"></label>\n"
	                     "<button type=\"submit\">Set pin</button>\n"
	                     "<button type=\"button\" id=\"pin-clear\">Clear pin</button>\n"
	                     "</form>\n<p id=\"msg\" role=\"status\" aria-live=\"polite\"></p>\n"
	                     "<h2>Nodes</h2>\n"
	                     "<p><label for=\"filter\">Filter (MAC, state, boot id, IP)<input id=\"filter\" type=\"search\" "
	                     "autocomplete=\"off\"></label></p>\n"
	                     "<p class=\"muted\" id=\"nodes-desc\">Boot state of every node seen; refreshed every 2 s</p>\n"
	                     "<table aria-describedby=\"nodes-desc\">\n<thead><tr><th scope=\"col\">MAC</th><th scope=\"col\">State</th>"
	                     "<th scope=\"col\">Boot id</th><th scope=\"col\">IP</th><th scope=\"col\">Last event</th>"
	                     "<th scope=\"col\">Age</th></tr></thead>\n<tbody id=\"nodes-body\">\n");
	for (size_t i = 0; i < n && !rc; i++) {
		const struct store_node *x = &nodes[i];
		const char *st = node_state_name(x->state);
		int64_t age = now_ms > x->last_ms ? (now_ms - x->last_ms) / 1000 : 0;
		mac_colon(x->mac, mac);
		rc |= sbuf_printf(out, "<tr><td data-label=\"MAC\" class=\"mac\">%s</td><td data-label=\"State\" "
		                       "class=\"state s-%s\">%s</td><td data-label=\"Boot id\" class=\"boot\">",
		                  mac, st, st);
		rc |= html_escape(out, x->boot);
		rc |= sbuf_puts(out, "</td><td data-label=\"IP\">");
		rc |= html_escape(out, x->ip);
		rc |= sbuf_puts(out, "</td><td data-label=\"Last event\">");
		rc |= html_escape(out, x->last_event);
		rc |= sbuf_printf(out, "</td><td data-label=\"Age\">%lld s</td></tr>\n", (long long)age);
	}
	rc |= sbuf_puts(out, "</tbody>\n</table>\n</main>\n");
	rc |= sbuf_puts(out, page_script);
	rc |= sbuf_puts(out, "</body>\n</html>\n");
	return rc ? -ENOMEM : 0;
}
