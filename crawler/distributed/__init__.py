"""A crawl whose state lives in Redis, crawled by any number of worker processes (issue 16):
lua.py decides, state.py talks to Redis, worker.py is the Scrapy scheduler, spider.py the
parts of the crawl that share through Redis, files.py a worker's files, run.py the commands."""
